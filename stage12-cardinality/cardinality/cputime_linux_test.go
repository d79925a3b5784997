package cardinality

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU is the calling OS thread's CPU time: with the goroutine locked
// to its thread (runtime.LockOSThread), the work done inline, apart from
// the process's other goroutines (a tracker's worker, the garbage
// collector's background workers). It reads CLOCK_THREAD_CPUTIME_ID, not
// getrusage(RUSAGE_THREAD): for the running thread the latter only
// advances at the scheduler's ticks (milliseconds), too coarse for a
// round of a few milliseconds.
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
