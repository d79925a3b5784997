//go:build unix

package wal

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system, all
// threads). Cost ratios use CPU time, not wall time, so other jobs on a
// shared machine do not skew them.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
