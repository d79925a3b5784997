package influx

import (
	"fmt"
	"math"
)

// Precision is the unit of the timestamps in a body: InfluxDB v2's
// precision=ns|us|ms|s, and v1's n|u|ms|s|m|h (v1 also says ns, us). It is
// the number of nanoseconds in one unit.
type Precision int64

// The precisions.
const (
	Nanosecond  Precision = 1
	Microsecond Precision = 1e3
	Millisecond Precision = 1e6
	Second      Precision = 1e9
	Minute      Precision = 60e9
	Hour        Precision = 3600e9
)

// ParsePrecision reads a precision parameter; "" is nanoseconds.
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "ns", "n":
		return Nanosecond, nil
	case "us", "u", "µ":
		return Microsecond, nil
	case "ms":
		return Millisecond, nil
	case "s":
		return Second, nil
	case "m":
		return Minute, nil
	case "h":
		return Hour, nil
	}
	return 0, fmt.Errorf("influx: precision %q: want ns, us, ms or s (v1 also n, u, m, h)", s)
}

// ParsePrecisionV2 reads InfluxDB v2's precision parameter: ns, us, ms or
// s ("" is ns); v1's other spellings are refused, as InfluxDB 2 refuses them.
func ParsePrecisionV2(s string) (Precision, error) {
	switch s {
	case "", "ns", "us", "ms", "s":
		return ParsePrecision(s)
	}
	return 0, fmt.Errorf("invalid precision %q: v2 takes ns, us, ms or s", s)
}

// Millis converts a timestamp in this precision to milliseconds since
// the epoch (rounding towards minus infinity); ok is false when the result
// does not fit in an int64.
func (p Precision) Millis(ts int64) (int64, bool) {
	if p <= Millisecond {
		d := int64(Millisecond / p)
		q := ts / d
		if ts%d < 0 {
			q-- // towards minus infinity: -1 ns is in the millisecond before 0
		}
		return q, true
	}
	mul := int64(p / Millisecond)
	if ts > math.MaxInt64/mul || ts < math.MinInt64/mul {
		return 0, false
	}
	return ts * mul, true
}
