package api

import (
	"net/http"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
)

// federate serves GET /federate, so that another Prometheus can scrape
// this server (federation), with Prometheus's semantics:
//
//   - match[] selects the series (any number of selectors; a series matched
//     by several is exposed once; none: nothing is exposed);
//   - each series is exposed with its newest sample in the lookback window
//     (now − query.lookback_delta, now], with that sample's timestamp;
//     a series whose newest sample is a staleness marker is left out (the
//     exposition formats cannot carry one);
//   - series are grouped by metric name into families, families in name
//     order; floats make untyped families, native histograms histogram
//     families (gauge histogram families for those whose counter-reset
//     hint says gauge), and a name whose series mix kinds gets one family
//     per run of a kind, as Prometheus writes it; labels with an empty
//     value and series without a name are left out;
//   - the external labels (config external_labels) are added to every
//     series that lacks them, and so is instance="" (an empty instance
//     label, which the scraper then neither overwrites nor adds: with
//     honor_labels: true the series keep their own job and instance);
//   - the format is negotiated from Accept: protobuf (delimited, text or
//     compact) or the text exposition format 0.0.4. Native histograms go
//     out in the protobuf formats only (schema, zero bucket, spans and
//     float counts, as Prometheus federates them); the text format has no
//     form for them and leaves them out. A histogram with custom bucket
//     bounds goes out as a classic histogram (cumulative buckets) in every
//     format: a scraper converting classic histograms gets it back.
func (a *API) federate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "error parsing form values: "+err.Error(), http.StatusBadRequest)
		return
	}
	sets, aerr := matchersParam(r)
	if aerr != nil {
		http.Error(w, aerr.Error(), http.StatusBadRequest)
		return
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.NewFormat(expfmt.TypeProtoDelim), expfmt.NewFormat(expfmt.TypeProtoText),
		expfmt.NewFormat(expfmt.TypeProtoCompact), expfmt.NewFormat(expfmt.TypeTextPlain))
	maxt := a.now().UnixMilli()
	mint := maxt - a.opts.LookbackDelta.Milliseconds()
	vec, err := a.latestSamples(sets, mint, maxt)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	native := false
	switch format.FormatType() {
	case expfmt.TypeProtoDelim, expfmt.TypeProtoText, expfmt.TypeProtoCompact:
		native = true
	}
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, fam := range a.families(vec, native) {
		if err := enc.Encode(fam); err != nil {
			a.log.Warn("federation: writing the answer failed", "err", err)
			return
		}
	}
}

// latestSamples returns, for each series matching any of sets, its newest
// sample in [mint, maxt] (a float in F, or a native histogram in H),
// unless that is a staleness marker; sorted by metric name, then labels.
func (a *API) latestSamples(sets [][]*index.Matcher, mint, maxt int64) (promql.Vector, error) {
	q, err := a.db.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	var vec promql.Vector
	var it tsdb.Iterator
	for _, ms := range sets {
		ss := q.Select(ms...)
		for ss.Next() {
			s := ss.At()
			it = s.Iterator(it)
			found, t, v := false, int64(0), 0.0
			// fh is decoded into at each histogram sample: the last one
			// read is the newest, and the series keeps it only if it is
			// also the newest sample of any kind.
			var fh, last *histogram.FloatHistogram
			hi, _ := it.(tsdb.HistogramIterator)
			for it.Next() {
				found, last = true, nil
				if hi != nil && hi.Type() != tsdb.ValFloat {
					t, fh = hi.AtFloatHistogram(fh)
					last = fh
					continue
				}
				t, v = it.At()
			}
			if err := it.Err(); err != nil {
				return nil, err
			}
			switch {
			case !found:
			case last != nil:
				if !promql.IsStaleNaN(last.Sum) {
					vec = append(vec, promql.Sample{Metric: s.Labels(), T: t, H: last})
				}
			case !promql.IsStaleNaN(v):
				vec = append(vec, promql.Sample{Metric: s.Labels(), T: t, F: v})
			}
		}
		if err := ss.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(vec, func(x, y promql.Sample) int {
		if c := strings.Compare(x.Metric.Get(model.MetricName), y.Metric.Get(model.MetricName)); c != 0 {
			return c
		}
		return x.Metric.Compare(y.Metric)
	})
	return slices.CompactFunc(vec, func(x, y promql.Sample) bool { return x.Metric.Equal(y.Metric) }), nil
}

// families groups samples (sorted by name) into metric families, adding
// the external labels and instance="" where a series lacks them. A family
// holds one kind: a float, a counter histogram or a gauge histogram
// follows a sample of another kind of the same name in a new family.
// Native histograms with exponential buckets are left out unless native
// (the format can carry them).
func (a *API) families(vec promql.Vector, native bool) []*dto.MetricFamily {
	ext := map[string]string{"instance": ""}
	for l := range a.opts.ExternalLabels.All() {
		ext[l.Name] = l.Value
	}
	extNames := make([]string, 0, len(ext))
	for n := range ext {
		extNames = append(extNames, n)
	}
	slices.Sort(extNames)
	var out []*dto.MetricFamily
	for _, s := range vec {
		name := s.Metric.Get(model.MetricName)
		if name == "" || s.H != nil && !native && !s.H.UsesCustomBuckets() {
			continue
		}
		m := &dto.Metric{TimestampMs: proto.Int64(s.T)}
		typ := dto.MetricType_UNTYPED
		switch {
		case s.H == nil:
			m.Untyped = &dto.Untyped{Value: proto.Float64(s.F)}
		case s.H.UsesCustomBuckets():
			m.Histogram = classicHistogram(s.H)
		default:
			m.Histogram = nativeHistogram(s.H)
		}
		if s.H != nil {
			typ = dto.MetricType_HISTOGRAM
			if s.H.CounterResetHint == histogram.GaugeType {
				typ = dto.MetricType_GAUGE_HISTOGRAM
			}
		}
		have := map[string]bool{}
		for l := range s.Metric.All() {
			if l.Name == model.MetricName || l.Value == "" {
				continue
			}
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
			have[l.Name] = true
		}
		for _, n := range extNames {
			if !have[n] {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(n), Value: proto.String(ext[n])})
			}
		}
		if len(out) == 0 || out[len(out)-1].GetName() != name || out[len(out)-1].GetType() != typ {
			out = append(out, &dto.MetricFamily{Name: proto.String(name), Type: typ.Enum()})
		}
		fam := out[len(out)-1]
		fam.Metric = append(fam.Metric, m)
	}
	return out
}

// nativeHistogram is h in the exposition's native histogram fields, with
// float counts (absolute per bucket) as Prometheus federates them: the
// engine's histograms are float ones. A histogram with no buckets and no
// zero bucket width gets the no-op span the format asks for, which tells
// a scraper it is native, not a classic histogram without buckets.
func nativeHistogram(h *histogram.FloatHistogram) *dto.Histogram {
	out := &dto.Histogram{
		SampleCountFloat: proto.Float64(h.Count),
		SampleSum:        proto.Float64(h.Sum),
		Schema:           proto.Int32(h.Schema),
		ZeroThreshold:    proto.Float64(h.ZeroThreshold),
		ZeroCountFloat:   proto.Float64(h.ZeroCount),
		PositiveSpan:     spans(h.PositiveSpans),
		PositiveCount:    h.PositiveBuckets,
		NegativeSpan:     spans(h.NegativeSpans),
		NegativeCount:    h.NegativeBuckets,
	}
	if len(out.PositiveSpan) == 0 && len(out.NegativeSpan) == 0 && h.ZeroThreshold == 0 {
		out.PositiveSpan = []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(0)}}
	}
	return out
}

func spans(ss []histogram.Span) []*dto.BucketSpan {
	if len(ss) == 0 {
		return nil
	}
	out := make([]*dto.BucketSpan, len(ss))
	for i, s := range ss {
		out[i] = &dto.BucketSpan{Offset: proto.Int32(s.Offset), Length: proto.Uint32(s.Length)}
	}
	return out
}

// classicHistogram is a custom-bucket histogram as a classic one: one
// cumulative bucket per upper bound. The +Inf bucket is left implicit
// (the protobuf format makes it optional, the text encoder adds it from
// the count).
func classicHistogram(h *histogram.FloatHistogram) *dto.Histogram {
	out := &dto.Histogram{SampleCountFloat: proto.Float64(h.Count), SampleSum: proto.Float64(h.Sum)}
	// Bucket i of a custom-bucket histogram is the one whose upper bound
	// is CustomValues[i]; the spans say which indexes are present.
	counts := make([]float64, len(h.CustomValues)+1)
	idx, k := int32(0), 0
	for _, sp := range h.PositiveSpans {
		idx += sp.Offset
		for range sp.Length {
			if idx >= 0 && int(idx) < len(counts) && k < len(h.PositiveBuckets) { // a bucket with no bound is left out
				counts[idx] = h.PositiveBuckets[k]
			}
			idx++
			k++
		}
	}
	cum := 0.0
	for i, le := range h.CustomValues {
		cum += counts[i]
		out.Bucket = append(out.Bucket, &dto.Bucket{UpperBound: proto.Float64(le), CumulativeCountFloat: proto.Float64(cum)})
	}
	return out
}
