//go:build unix

package measure

import (
	"testing"
	"time"
)

// Spinning for 50 ms of wall time on one goroutine must cost about 50 ms of
// CPU; sleeping must cost almost none. Generous bounds: this checks the
// clock measures CPU, not its precision.
func TestCPUTime(t *testing.T) {
	c0 := CPUTime()
	time.Sleep(50 * time.Millisecond)
	slept := CPUTime() - c0

	c1 := CPUTime()
	x := 0
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	spun := CPUTime() - c1
	if spun < 20*time.Millisecond {
		t.Errorf("50ms of spinning cost %v of CPU time", spun)
	}
	if slept > spun/2 {
		t.Errorf("sleeping cost %v of CPU time, spinning %v", slept, spun)
	}
	_ = x
}
