//go:build linux

package compare

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time (user + system) of the calling OS thread,
// or 0 if it cannot be read. The caller locks its goroutine to the thread.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD: this thread only
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU returns the CPU time (user + system) of the whole process,
// every thread and the collector included, or 0 if it cannot be read.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
