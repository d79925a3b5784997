package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// thousands formats n with comma separators: 1234567 -> "1,234,567".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// sig3 formats x with at most three significant digits and no exponent:
// 0.0029839 -> "0.00298", 12 -> "12".
func sig3(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	scale := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(x))))
	return strconv.FormatFloat(math.Round(x*scale)/scale, 'f', -1, 64)
}

// millis formats a duration in milliseconds in a readable unit:
// 10000 -> "10s", 10008.9 -> "10.009s", 250 -> "250ms", 90000 -> "1m30s".
func millis(ms float64) string {
	switch a := math.Abs(ms); {
	case a >= 60_000 && a < 1e15 && ms == math.Round(ms):
		return (time.Duration(ms) * time.Millisecond).String()
	case a >= 1000:
		return strconv.FormatFloat(math.Round(ms)/1000, 'f', -1, 64) + "s"
	default:
		return sig3(ms) + "ms"
	}
}

// progress prints a line on w every two seconds until stop is called, so
// that long runs show they are alive and short ones print nothing.
func progress(w io.Writer, what string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(w, "%s… %s\n", what, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done); <-finished }
}
