// Package promtime reads and prints durations and times the way Prometheus's
// and Alertmanager's configuration files do. Rule files, promtool test files
// and Alertmanager configs share one duration syntax ("1h30m", "2d", "0"),
// which differs from Go's (no "1.5h", no "µs") and from PromQL's printing
// (a configuration prints 10d as "10d", PromQL as "1w3d").
package promtime

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a configuration duration. Its YAML and JSON forms are strings
// such as "5m".
type Duration time.Duration

type unit struct {
	name string
	ms   uint64
}

// units in the only order a duration may use them.
var units = []unit{
	{"y", 365 * 24 * 3600 * 1000},
	{"w", 7 * 24 * 3600 * 1000},
	{"d", 24 * 3600 * 1000},
	{"h", 3600 * 1000},
	{"m", 60 * 1000},
	{"s", 1000},
	{"ms", 1},
}

// ParseDuration reads "1y2w3d4h5m6s7ms" (any subset, largest unit first) or
// "0". The errors are Prometheus's words, which promtool prints.
func ParseDuration(s string) (Duration, error) {
	switch s {
	case "0":
		return 0, nil
	case "":
		return 0, errors.New("empty duration string")
	}
	orig := s
	var ms uint64
	next := 0
	invalid := fmt.Errorf("not a valid duration string: %q", orig)
	for s != "" {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 {
			return 0, invalid
		}
		v, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			return 0, invalid
		}
		s = s[i:]
		j := 0
		for j < len(s) && !isDigit(s[j]) {
			j++
		}
		if j == 0 {
			return 0, invalid
		}
		name := s[:j]
		s = s[j:]
		k := -1
		for x, u := range units {
			if u.name == name {
				k = x
			}
		}
		if k < 0 {
			return 0, fmt.Errorf("unknown unit %q in duration %q", name, orig)
		}
		if k < next {
			return 0, invalid
		}
		next = k + 1
		// The total must fit a time.Duration in nanoseconds.
		const maxMS = math.MaxInt64 / uint64(time.Millisecond)
		if v > maxMS/units[k].ms || ms+v*units[k].ms > maxMS {
			return 0, errors.New("duration out of range")
		}
		ms += v * units[k].ms
	}
	return Duration(time.Duration(ms) * time.Millisecond), nil
}

// MustParseDuration is ParseDuration for constants in code and tests.
func MustParseDuration(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// String prints the duration in whole milliseconds, largest units first;
// years and weeks only when they divide it exactly (90d, not 12w6d).
func (d Duration) String() string {
	ms := int64(time.Duration(d) / time.Millisecond)
	if ms == 0 {
		return "0s"
	}
	var b strings.Builder
	if ms < 0 {
		b.WriteByte('-')
		ms = -ms
	}
	for i, u := range units {
		m := int64(u.ms)
		if i < 2 && ms%m != 0 {
			continue
		}
		if v := ms / m; v > 0 {
			b.WriteString(strconv.FormatInt(v, 10))
			b.WriteString(u.name)
			ms -= v * m
		}
	}
	return b.String()
}

// UnmarshalYAML reads the string form (yaml.v3's obsolete unmarshaler
// interface, as Prometheus's types use, so that errors read the same).
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the string form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the string form.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

// UnmarshalJSON reads the string form.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("duration: want a string, got %s", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseTime reads a time as Prometheus's API and promtool accept it: RFC 3339
// or seconds since the epoch, fractions allowed.
func ParseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}
