package cluster

import "time"

type timeNow = time.Time

func timeAt(ns int64) time.Time { return time.Unix(0, ns) }

// scale is n normally, n/div under the race detector.
func scale(n, div int) int {
	if raceEnabled {
		return n / div
	}
	return n
}
