package cli

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Thousands formats n with comma separators: 1234567 -> "1,234,567".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return sign + string(out)
}

// Duration prints d the way the guide does: with three significant digits
// in the largest unit that keeps it at least 1 (1.5s, 12.3ms, 850µs, 120ns),
// and from one minute on as hours, minutes and seconds without the zero
// parts (2h, 1h30m, 1m30s).
func Duration(d time.Duration) string {
	switch a := d.Abs(); {
	case a >= time.Minute:
		return clock(d.Round(time.Second))
	case a >= time.Second:
		return Sig3(d.Seconds()) + "s"
	case a >= time.Millisecond:
		return Sig3(float64(d)/float64(time.Millisecond)) + "ms"
	case a >= time.Microsecond:
		return Sig3(float64(d)/float64(time.Microsecond)) + "µs"
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// clock prints a whole number of seconds as 2h, 1h30m, 1m5s.
func clock(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	h, m, sec := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	out := sign
	if h > 0 {
		out += strconv.FormatInt(h, 10) + "h"
	}
	if m > 0 {
		out += strconv.FormatInt(m, 10) + "m"
	}
	if sec > 0 {
		out += strconv.FormatInt(sec, 10) + "s"
	}
	return out
}

// Sig3 formats x rounded to three significant digits, in the shortest form
// and without exponent: 0.0029839 -> "0.00298", 12 -> "12", 1.50 -> "1.5",
// 1234.5 -> "1235" (integer digits are never dropped).
func Sig3(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	digits := 2 - int(math.Floor(math.Log10(math.Abs(x))))
	if digits <= 0 {
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	}
	// Dividing an integer by a power of ten is correctly rounded, so the
	// shortest representation of the quotient has no stray digits.
	scale := math.Pow(10, float64(digits))
	return strconv.FormatFloat(math.Round(x*scale)/scale, 'f', -1, 64)
}

// Rate formats a count per second with a unit suffix: 1234567.8 -> "1.23M".
func Rate(perSecond float64) string {
	switch a := math.Abs(perSecond); {
	case a >= 1e9:
		return Sig3(perSecond/1e9) + "G"
	case a >= 1e6:
		return Sig3(perSecond/1e6) + "M"
	case a >= 1e3:
		return Sig3(perSecond/1e3) + "K"
	}
	return Sig3(perSecond)
}

// Bytes formats a size in binary units: 1536 -> "1.5 KiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for math.Abs(f) >= unit && i < 6 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i-1])
}
