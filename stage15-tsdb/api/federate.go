package api

import (
	"net/http"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/tsdb-course/stage01-memstore/model"
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
//   - series are grouped by metric name into untyped families, families in
//     name order; labels with an empty value and series without a name are
//     left out;
//   - the external labels (config external_labels) are added to every
//     series that lacks them, and so is instance="" (an empty instance
//     label, which the scraper then neither overwrites nor adds: with
//     honor_labels: true the series keep their own job and instance);
//   - the format is negotiated from Accept: protobuf (delimited, text or
//     compact) or the text exposition format 0.0.4.
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
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, fam := range a.families(vec) {
		if err := enc.Encode(fam); err != nil {
			a.log.Warn("federation: writing the answer failed", "err", err)
			return
		}
	}
}

// latestSamples returns, for each series matching any of sets, its newest
// sample in [mint, maxt], unless that is a staleness marker or a native
// histogram; sorted by metric name, then labels.
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
			found, hist, t, v := false, false, int64(0), 0.0
			hi, _ := it.(tsdb.HistogramIterator)
			for it.Next() {
				found = true
				t, v = it.At()
				hist = hi != nil && hi.Type() != tsdb.ValFloat
			}
			if err := it.Err(); err != nil {
				return nil, err
			}
			// A native histogram has no form in the exposition formats
			// federation writes here: its series are left out.
			if found && !hist && !promql.IsStaleNaN(v) {
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

// families groups samples (sorted by name) into untyped metric families,
// adding the external labels and instance="" where a series lacks them.
func (a *API) families(vec promql.Vector) []*dto.MetricFamily {
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
		if name == "" {
			continue
		}
		m := &dto.Metric{Untyped: &dto.Untyped{Value: proto.Float64(s.F)}, TimestampMs: proto.Int64(s.T)}
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
		if len(out) == 0 || out[len(out)-1].GetName() != name {
			out = append(out, &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_UNTYPED.Enum()})
		}
		fam := out[len(out)-1]
		fam.Metric = append(fam.Metric, m)
	}
	return out
}
