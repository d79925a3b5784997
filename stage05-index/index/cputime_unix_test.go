//go:build unix

package index

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system, all
// threads). The milestones compare CPU times of two workloads rather than
// wall times, so other jobs on a shared machine do not skew the ratio.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
