package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Times outside any query: the defaults of start and end for series and
// label lookups, as in Prometheus (the range of time.Time a JSON number can
// carry exactly).
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// parseTime reads a timestamp parameter: unix seconds (fractions kept to
// the millisecond) or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > 9.2e12 || f < -9.2e12 {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration reads a duration parameter: seconds (a float) or a PromQL
// duration (5m, 1h30m).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		if math.IsNaN(ns) || ns >= math.MaxInt64 || ns <= math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ns), nil
	}
	if d, err := parser.ParseDuration(s); err == nil {
		return d, nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

func badParam(name string, err error) *apiError {
	return newError(ErrBadData, fmt.Errorf("invalid parameter %q: %w", name, err))
}

// timeParam reads the named time parameter, or def when it is absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, *apiError) {
	s := r.FormValue(name)
	if s == "" {
		return def, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, badParam(name, err)
	}
	return t, nil
}

// matchersParam reads every match[] selector.
func matchersParam(r *http.Request) ([][]*index.Matcher, *apiError) {
	var sets [][]*index.Matcher
	for _, s := range r.Form["match[]"] {
		ms, err := index.ParseSelector(s)
		if err != nil {
			return nil, badParam("match[]", err)
		}
		sets = append(sets, ms)
	}
	return sets, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
