//go:build !linux

package cardinality

import "time"

// threadCPU falls back to the process's CPU time where a thread's own is
// not available (RUSAGE_THREAD is Linux's).
func threadCPU() time.Duration { return cpuTime() }
