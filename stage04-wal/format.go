package main

import (
	"fmt"
	"time"
)

// mib prints a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1fMB", float64(n)/(1<<20)) }

// rate is n per second of d.
func rate(n int, d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(float64(n) / d.Seconds())
}
