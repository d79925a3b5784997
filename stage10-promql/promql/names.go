package promql

import (
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
)

// A result that is no longer the quantity its metric name describes (rate
// of a counter, a sum, x * 2) loses the name, and with it __type__ and
// __unit__ (Prometheus's type-and-unit labels): the metadata labels, which
// describe the metric, not the series.
//
// By default, as in Prometheus, a function or operator drops them at once.
// With DelayedNameRemoval (--enable-feature=promql-delayed-name-removal) it
// marks the series (Series.DropName) and the labels stay until the query is
// done (finish), so that what comes after still sees them:
// label_replace(rate(x[5m]), "metric", "$1", "__name__", "(.+)") and
// sum by (__name__) (rate({job="a"}[5m])) work, and setting __name__ with
// label_replace keeps it.

// metadataLabels are dropped together with the metric name.
var metadataLabels = []string{model.MetricName, "__type__", "__unit__"}

// dropMetadata is l without its name, type and unit labels.
func dropMetadata(l model.Labels) model.Labels {
	if !slices.ContainsFunc(metadataLabels, l.Has) {
		return l
	}
	return l.Without(metadataLabels...)
}

// nameless is how a function or operator drops a series' name: at once,
// or (delayed) by marking the series; drop is the series' mark so far.
func (ev *evaluator) nameless(l model.Labels, drop bool) (model.Labels, bool) {
	if ev.features.DelayedNameRemoval {
		return l, true
	}
	return dropMetadata(l), drop
}

// finish drops the names marked for delayed removal at the end of a query.
// Series whose labels are then the same merge into one (their points
// interleaved), as Prometheus merges them; in an instant vector that is an
// error.
func finish(m Matrix, instant bool) (Matrix, error) {
	marked := false
	for i := range m {
		if m[i].DropName {
			m[i].Metric = dropMetadata(m[i].Metric)
			m[i].DropName = false
			marked = true
		}
	}
	if !marked {
		return m, nil
	}
	byHash := map[uint64][]int{}
	out := m[:0]
	for _, s := range m {
		h := s.Metric.Hash()
		dup := -1
		for _, i := range byHash[h] {
			if out[i].Metric.Equal(s.Metric) {
				dup = i
			}
		}
		if dup < 0 {
			byHash[h] = append(byHash[h], len(out))
			out = append(out, s)
			continue
		}
		if instant {
			return nil, errorf("vector cannot contain metrics with the same labelset")
		}
		merged := append(slices.Clone(out[dup].Floats), s.Floats...)
		slices.SortStableFunc(merged, func(a, b Point) int { return cmpInt(a.T, b.T) })
		out[dup].Floats = merged
		if len(s.Histograms) > 0 {
			mh := append(slices.Clone(out[dup].Histograms), s.Histograms...)
			slices.SortStableFunc(mh, func(a, b HPoint) int { return cmpInt(a.T, b.T) })
			out[dup].Histograms = mh
		}
	}
	return out, nil
}
