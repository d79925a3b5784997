package selfmon

import (
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	r := NewRate(5 * time.Second)
	t0 := time.Unix(1000, 0)
	r.Observe(t0, 100)
	if r.PerSecond() != 0 {
		t.Fatal("rate before a window")
	}
	r.Observe(t0.Add(2*time.Second), 150) // window not complete: ignored
	if r.PerSecond() != 0 {
		t.Fatal("rate before a complete window")
	}
	r.Observe(t0.Add(10*time.Second), 600) // 500 in 10 s
	if got := r.PerSecond(); got != 50 {
		t.Fatalf("rate %v, want 50", got)
	}
	r.Observe(t0.Add(15*time.Second), 600)
	if got := r.PerSecond(); got != 0 {
		t.Fatalf("idle rate %v, want 0", got)
	}
}
