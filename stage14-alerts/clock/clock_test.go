package clock

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSimRunsDueCallbacksInTimeOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	s := NewSim(start)
	var log []string
	rec := func(name string) func() {
		return func() { log = append(log, fmt.Sprintf("%s@%d", name, s.Now().Unix()-1000)) }
	}
	s.AfterFunc(30*time.Second, rec("c"))
	s.AfterFunc(10*time.Second, rec("a"))
	s.AfterFunc(10*time.Second, rec("b")) // same time: scheduling order
	stopped := s.AfterFunc(20*time.Second, rec("never"))
	// A callback scheduling another that is due within the same Advance.
	s.AfterFunc(15*time.Second, func() {
		rec("d")()
		s.AfterFunc(5*time.Second, rec("e"))  // due at 20
		s.AfterFunc(50*time.Second, rec("f")) // due at 65, beyond
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true then false")
	}
	s.Advance(40 * time.Second)
	if got, want := strings.Join(log, " "), "a@10 b@10 d@15 e@20 c@30"; got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
	if got := s.Now().Sub(start); got != 40*time.Second {
		t.Errorf("now %v after Advance(40s)", got)
	}
	if n, ok := s.Next(); !ok || n.Sub(start) != 65*time.Second {
		t.Errorf("Next = %v %v, want +65s", n.Sub(start), ok)
	}
	s.AdvanceTo(start) // never backwards
	if s.Now().Sub(start) != 40*time.Second {
		t.Error("AdvanceTo moved the clock back")
	}
}

func TestRealAfterFunc(t *testing.T) {
	done := make(chan struct{})
	Real().AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("real AfterFunc never ran")
	}
}
