package parser

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// durationUnits in the only order a duration may use them: 1h30m, not 30m1h.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
}

// ParseDuration reads a PromQL duration such as 5m, 1h30m, 2d, 1y, 500ms.
// Units must be given from the largest to the smallest, each at most once.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	var total time.Duration
	next := 0 // index into durationUnits of the smallest unit still allowed
	if s == "" {
		return 0, fmt.Errorf("not a valid duration string: %q", orig)
	}
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		s = s[i:]
		u := -1
		for j := next; j < len(durationUnits); j++ {
			name := durationUnits[j].name
			// "m" must not swallow the "m" of "ms".
			if strings.HasPrefix(s, name) && !(name == "m" && strings.HasPrefix(s, "ms")) {
				u = j
				break
			}
		}
		if u < 0 {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		s = s[len(durationUnits[u].name):]
		d := time.Duration(n) * durationUnits[u].d
		if n != 0 && d/durationUnits[u].d != time.Duration(n) {
			return 0, fmt.Errorf("duration out of range: %q", orig)
		}
		total += d
		if total < 0 {
			return 0, fmt.Errorf("duration out of range: %q", orig)
		}
		next = u + 1
	}
	return total, nil
}

// FormatDuration prints d in the largest units first: 90m is "1h30m", 7d is
// "1w", 0 is "0s". Negative durations get a leading "-".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range durationUnits {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			d -= n * u.d
		}
	}
	if d > 0 { // below a millisecond: not expressible in PromQL, keep it visible
		fmt.Fprintf(&b, "%dns", int64(d))
	}
	return b.String()
}

func durationOf(ns int64) time.Duration { return time.Duration(ns) }
