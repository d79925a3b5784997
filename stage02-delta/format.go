package main

import (
	"math"
	"strconv"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
)

// millis formats a duration in milliseconds in a readable unit:
// 10000 -> "10s", 10008.9 -> "10.009s", 250 -> "250ms", 90000 -> "1m30s".
func millis(ms float64) string {
	switch a := math.Abs(ms); {
	case a >= 60_000 && a < 1e15 && ms == math.Round(ms):
		return (time.Duration(ms) * time.Millisecond).String()
	case a >= 1000:
		return strconv.FormatFloat(math.Round(ms)/1000, 'f', -1, 64) + "s"
	default:
		return cli.Sig3(ms) + "ms"
	}
}
