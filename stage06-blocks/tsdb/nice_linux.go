package tsdb

import (
	"runtime"
	"syscall"
)

// lowerThreadPriority gives the calling goroutine a thread of its own and
// sets that thread's nice value to n (Options.CompactionNice). On Linux the
// nice value belongs to a thread, and setpriority on a thread ID sets that
// thread's alone. The goroutine never unlocks the thread: when it ends, the
// runtime ends the thread with it instead of handing a lowered thread to
// other goroutines. A refusal (n below the process's nice, unprivileged)
// leaves the thread as it was: the priority is a preference, not a need.
func lowerThreadPriority(n int) {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), n)
}
