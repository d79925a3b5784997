package cardinality

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time. On a machine shared with
// other work a benchmark's wall time per op grows with the load (the
// process waits for a core); its CPU time per op hardly does, so the
// benchmarks report both.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports CPU ns per op under unit when stopped.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, cpuTime()} }

func (m cpuMeter) report(unit string) {
	m.b.ReportMetric(float64((cpuTime()-m.start).Nanoseconds())/float64(m.b.N), unit)
}
