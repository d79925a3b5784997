//go:build unix

package measure

import (
	"testing"
	"time"
)

// TestCPUTime checks that the clock counts this process's CPU, not wall
// time, in a way that holds on a loaded machine (where a 50 ms spin may get
// only a few ms of a core): sleeping must cost almost nothing; spinning
// must make it advance by 50 ms within a generous wall-clock deadline; and
// one spinning goroutine cannot use more CPU than the wall time it took.
func TestCPUTime(t *testing.T) {
	c0 := CPUTime()
	time.Sleep(50 * time.Millisecond)
	if slept := CPUTime() - c0; slept > 25*time.Millisecond {
		t.Errorf("sleeping 50ms cost %v of CPU time: the clock counts wall time", slept)
	}

	const want = 50 * time.Millisecond
	deadline := time.Now().Add(60 * time.Second)
	w0, c1 := time.Now(), CPUTime()
	x := 0
	for CPUTime()-c1 < want {
		if time.Now().After(deadline) {
			t.Fatalf("60s of spinning advanced the CPU clock by %v only", CPUTime()-c1)
		}
		for range 100_000 { // a slice of work between two clock readings
			x++
		}
	}
	spun, wall := CPUTime()-c1, time.Since(w0)
	// 10 ms for the clock's tick and the runtime's own threads.
	if spun > wall+10*time.Millisecond {
		t.Errorf("one goroutine spun %v of wall time but the clock counted %v of CPU", wall, spun)
	}
	_ = x
}
