package tsdb

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// A creation queued while createMu is held for something else (a head
// truncation, Memory) is served by that holder when it lets go.
func TestCreateQueuedWhileLockedIsServedByUnlock(t *testing.T) {
	h := newHead(Options{}.withDefaults(), nil, nil)
	lset := model.MustFromStrings(model.MetricName, "up", "job", "api")
	h.createMu.Lock() // as truncateMemory does
	got := make(chan *memSeries, 1)
	go func() {
		s, _, err := h.getOrCreate(lset)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	for h.createQ.pending.Load() == 0 { // the creation is queued, its TryLock failed
		runtime.Gosched()
	}
	h.unlockCreate()
	if _, ok := h.ix.Lookup(lset); !ok {
		h.serveCreates() // let the goroutine finish
		<-got
		t.Fatal("unlockCreate returned with a creation still queued")
	}
	if s := <-got; s == nil || h.byRef.get(s.ref) != s {
		t.Fatalf("creation returned %v, not the series the head holds", s)
	}
}

// Goroutines creating the same series concurrently all get the one series
// each label set has.
func TestCreateConcurrentSameSeries(t *testing.T) {
	h := newHead(Options{}.withDefaults(), nil, nil)
	const n, goroutines = 300, 6
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(model.MetricName, "m", "i", fmt.Sprint(i))
	}
	got := make([][]*memSeries, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		got[g] = make([]*memSeries, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				i := (k*7 + g*31) % n // each goroutine in its own order
				s, _, err := h.getOrCreate(lsets[i])
				if err != nil {
					t.Error(err)
					return
				}
				got[g][i] = s
			}
		}()
	}
	wg.Wait()
	if h.NumSeries() != n {
		t.Fatalf("%d series in the head, want %d", h.NumSeries(), n)
	}
	for i := range n {
		for g := 1; g < goroutines; g++ {
			if got[g][i] != got[0][i] {
				t.Fatalf("series %d: goroutines 0 and %d got different series", i, g)
			}
		}
	}
}

// A batch's creation queued while createMu is held elsewhere is one
// request, served whole by the holder's unlock.
func TestCreateManyQueuedIsServedByUnlock(t *testing.T) {
	h := newHead(Options{}.withDefaults(), nil, nil)
	lsets := []model.Labels{
		model.MustFromStrings(model.MetricName, "up", "job", "a"),
		model.MustFromStrings(model.MetricName, "up", "job", "b"),
		model.MustFromStrings(model.MetricName, "up", "job", "a"),
	}
	out, created, errs := make([]*memSeries, 3), make([]bool, 3), make([]error, 3)
	h.createMu.Lock()
	done := make(chan struct{})
	go func() {
		h.getOrCreateMany(lsets, out, created, errs)
		close(done)
	}()
	for h.createQ.pending.Load() == 0 {
		runtime.Gosched()
	}
	if n := h.createQ.pending.Load(); n != 1 {
		t.Errorf("%d requests queued for a batch of 3 series, want 1", n)
	}
	h.unlockCreate()
	if h.NumSeries() != 2 {
		h.serveCreates()
		<-done
		t.Fatalf("unlockCreate returned with %d series created, want 2", h.NumSeries())
	}
	<-done
	for i, s := range out {
		if errs[i] != nil || s == nil || h.byRef.get(s.ref) != s {
			t.Fatalf("series %d: %v, %v: not the series the head holds", i, s, errs[i])
		}
	}
	if out[0] != out[2] || out[0] == out[1] || !created[0] || !created[1] || created[2] {
		t.Errorf("series %p %p %p, created %v: want the first and the last the same, created once", out[0], out[1], out[2], created)
	}
}
