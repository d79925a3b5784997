package promqltest

import "github.com/tsdb-course/stage01-memstore/model"

// SeriesValue is one step of an expanded series description: a value, or
// Missing for "_" (no sample at that step). A staleness marker is the value
// promql.StaleNaN.
type SeriesValue struct {
	Missing bool
	V       float64
}

// ParseSeriesDesc reads a series description in the expanding notation of the
// scripts' load blocks, `metric{a="b"} 1+2x3 _ stale`: the labels, then one
// value per step. promtool's unit-test files describe their input series the
// same way, which is why it is exported.
func ParseSeriesDesc(desc string) (model.Labels, []SeriesValue, error) {
	ls, vals, err := parseSeriesLine(desc)
	if err != nil {
		return model.Labels{}, nil, err
	}
	out := make([]SeriesValue, len(vals))
	for i, v := range vals {
		out[i] = SeriesValue{Missing: v.missing, V: v.v}
	}
	return ls, out, nil
}
