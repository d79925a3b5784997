package config

import (
	"fmt"
	"time"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Duration is a time.Duration written the Prometheus way in files and flags:
// 15d, 2h30m, 1w, 500ms; "0" means none.
type Duration time.Duration

// ParseDuration reads a Prometheus duration; "0" is zero.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := parser.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: duration %q: %v", ErrInvalid, s, err)
	}
	return Duration(d), nil
}

// String prints whole years (365 days, PromQL's y) as years, whole days
// as days (15d, not 2w1d, which is how PromQL would print it), anything
// else in PromQL's largest-units-first form.
func (d Duration) String() string {
	const day = 24 * time.Hour
	if td := time.Duration(d); td > 0 && td%(365*day) == 0 {
		return fmt.Sprintf("%dy", td/(365*day))
	}
	if td := time.Duration(d); td > 0 && td%day == 0 {
		return fmt.Sprintf("%dd", td/day)
	}
	return parser.FormatDuration(time.Duration(d))
}

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	return d.Set(s)
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
