package cardinality

import (
	"errors"
	"math"
	"time"
)

// Point is one observation of a series count.
type Point struct {
	T time.Time
	V float64
}

// TotalHistory is the tracker's total series, hour by hour.
func TotalHistory(h []Snapshot) []Point {
	out := make([]Point, len(h))
	for i, s := range h {
		out[i] = Point{s.Time, float64(s.Total)}
	}
	return out
}

// MetricHistory is one metric's series, hour by hour (the hours it was
// among the largest metrics recorded).
func MetricHistory(h []Snapshot, metric string) []Point {
	var out []Point
	for _, s := range h {
		if n, ok := s.Metrics[metric]; ok {
			out = append(out, Point{s.Time, float64(n)})
		}
	}
	return out
}

// ErrNoHistory: fewer than two points, no trend to speak of.
var ErrNoHistory = errors.New("cardinality: need at least two hourly snapshots to forecast")

// ForecastOptions configure Predict. The zero value is valid.
type ForecastOptions struct {
	// Days ahead of the last point. Defaults to 30.
	Days int
	// Limit is the series count to warn about (0: none); Predict reports
	// when each method's line crosses it.
	Limit float64
	// Alpha and Beta are Holt's smoothing factors for the level and the
	// trend, in (0, 1]. Default to 0.5 and 0.3: recent hours weigh most,
	// the trend changes slowly.
	Alpha, Beta float64
}

// Forecast is the predicted count Days after the last point, by two
// methods: a least-squares line through all points, and Holt's double
// exponential smoothing (a level and a trend, each updated as a weighted
// mean of the newest evidence and the previous value, so a recent change
// of pace counts more than in the line).
type Forecast struct {
	From           time.Time // the last point's time
	Last           float64   // the last point's value
	Days           int
	Points         int
	LinearPerHour  float64 // the line's slope
	Linear         float64 // the line's value at From + Days
	HoltPerHour    float64 // Holt's final trend
	Holt           float64 // Holt's value at From + Days
	Limit          float64
	LinearCrossing time.Time // when the line reaches Limit (zero: not ahead)
	HoltCrossing   time.Time
}

// Exceeds reports whether either method predicts the limit to be reached
// within the horizon.
func (f Forecast) Exceeds() bool {
	return f.Limit > 0 && (f.Linear >= f.Limit || f.Holt >= f.Limit)
}

// Predict fits both methods to pts (sorted by time, hourly or with gaps).
func Predict(pts []Point, opts ForecastOptions) (Forecast, error) {
	if len(pts) < 2 {
		return Forecast{}, ErrNoHistory
	}
	if opts.Days <= 0 {
		opts.Days = 30
	}
	if opts.Alpha <= 0 || opts.Alpha > 1 {
		opts.Alpha = 0.5
	}
	if opts.Beta <= 0 || opts.Beta > 1 {
		opts.Beta = 0.3
	}
	last := pts[len(pts)-1]
	f := Forecast{From: last.T, Last: last.V, Days: opts.Days, Points: len(pts), Limit: opts.Limit}
	ahead := float64(opts.Days * 24)

	slope, atLast := linearFit(pts)
	f.LinearPerHour = slope
	f.Linear = math.Max(0, atLast+slope*ahead)

	level, trend := holt(pts, opts.Alpha, opts.Beta)
	f.HoltPerHour = trend
	f.Holt = math.Max(0, level+trend*ahead)

	f.LinearCrossing = crossing(last.T, atLast, slope, opts.Limit)
	f.HoltCrossing = crossing(last.T, level, trend, opts.Limit)
	return f, nil
}

// crossing is when v + slope·hours reaches limit, counted from t: t itself
// if already there, zero if never.
func crossing(t time.Time, v, slope, limit float64) time.Time {
	switch {
	case limit <= 0:
		return time.Time{}
	case v >= limit:
		return t
	case slope <= 0:
		return time.Time{}
	}
	hours := (limit - v) / slope
	if hours > 1e6 { // past a century: never, for planning
		return time.Time{}
	}
	return t.Add(time.Duration(hours * float64(time.Hour)))
}

// hoursSince is the time from a to b in hours.
func hoursSince(a, b time.Time) float64 { return b.Sub(a).Hours() }

// linearFit is the least-squares line through pts over time in hours: its
// slope (per hour) and its value at the last point.
func linearFit(pts []Point) (slope, atLast float64) {
	t0 := pts[0].T
	var sx, sy, sxx, sxy float64
	n := float64(len(pts))
	for _, p := range pts {
		x := hoursSince(t0, p.T)
		sx += x
		sy += p.V
		sxx += x * x
		sxy += x * p.V
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, pts[len(pts)-1].V
	}
	slope = (n*sxy - sx*sy) / den
	icept := (sy - slope*sx) / n
	return slope, icept + slope*hoursSince(t0, pts[len(pts)-1].T)
}

// holt runs Holt's linear method over pts; the trend is per hour, and a
// gap of several hours moves the level by the trend times the gap.
func holt(pts []Point, alpha, beta float64) (level, trend float64) {
	level = pts[0].V
	trend = (pts[1].V - pts[0].V) / math.Max(hoursSince(pts[0].T, pts[1].T), 1e-9)
	for i := 1; i < len(pts); i++ {
		dt := math.Max(hoursSince(pts[i-1].T, pts[i].T), 1e-9)
		prev := level
		level = alpha*pts[i].V + (1-alpha)*(level+trend*dt)
		trend = beta*(level-prev)/dt + (1-beta)*trend
	}
	return level, trend
}
