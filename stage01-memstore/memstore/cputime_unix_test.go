//go:build unix

package memstore

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system, all
// threads, the garbage collector included). The cost milestones compare CPU
// time rather than wall time, so other jobs on a shared machine do not skew
// the ratio.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
