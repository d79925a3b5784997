package shard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// ErrNoMeasurement rejects a series without a metric name when the engine
// needs one (TSM keys start with the measurement).
var ErrNoMeasurement = errors.New("shard: series without " + model.MetricName)

const nsPerMs = int64(1e6)

// TSMEngine adapts stage07's tsm.Engine: a series becomes the storage key
// "measurement,tags#!~#field", milliseconds become nanoseconds.
type TSMEngine struct {
	e       *tsm.Engine
	batches sync.Pool
}

// OpenTSM opens a TSM engine in dir.
func OpenTSM(dir string, opts EngineOptions) (Engine, error) {
	e, err := tsm.Open(dir, tsm.Options{CacheMaxSize: opts.CacheBytes, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	return &TSMEngine{e: e}, nil
}

// TSM is the engine underneath (for stage07's own tools and queries).
func (t *TSMEngine) TSM() *tsm.Engine { return t.e }

type tsmBatch struct {
	b    *tsm.Batch
	key  []byte
	tags []lineprotocol.Tag
	pt   lineprotocol.Point
}

// Append implements Engine: one tsm.Batch, so one WAL record.
func (t *TSMEngine) Append(batch []Series) error {
	tb, _ := t.batches.Get().(*tsmBatch)
	if tb == nil {
		tb = &tsmBatch{b: tsm.NewBatch()}
	}
	defer t.batches.Put(tb)
	tb.b.Reset()
	for i := range batch {
		s := &batch[i]
		if len(s.Samples) == 0 {
			continue
		}
		var err error
		if tb.key, err = tb.appendKey(tb.key[:0], s.Labels); err != nil {
			return err
		}
		for _, sm := range s.Samples {
			if err := tb.b.Add(tb.key, tsm.FloatType, sm.T*nsPerMs, math.Float64bits(sm.V), ""); err != nil {
				return err
			}
		}
	}
	if tb.b.Len() == 0 {
		return nil
	}
	return t.e.WriteBatch(tb.b)
}

// appendKey appends the TSM storage key of a label set.
func (tb *tsmBatch) appendKey(dst []byte, l model.Labels) ([]byte, error) {
	name := l.Get(model.MetricName)
	if name == "" {
		return dst, fmt.Errorf("%w: %v", ErrNoMeasurement, l)
	}
	tb.pt.Measurement = append(tb.pt.Measurement[:0], name...)
	tb.pt.Tags = tb.pt.Tags[:0]
	for lb := range l.All() {
		if lb.Name == model.MetricName || lb.Name == FieldLabel {
			continue
		}
		tb.pt.Tags = append(tb.pt.Tags, lineprotocol.Tag{Key: []byte(lb.Name), Value: []byte(lb.Value)})
	}
	dst, tb.tags = tsm.AppendSeriesKey(dst, &tb.pt, tb.tags)
	dst = append(dst, tsm.FieldSeparator...)
	return append(dst, fieldOf(l)...), nil
}

// Select implements Engine with the TSM series index: the __name__
// matcher picks measurements, __field__ matchers pick fields, the rest
// are tag matchers for tsm.Engine.SelectSeries.
func (t *TSMEngine) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) ([]Series, error) {
	var nameMs, fieldMs, tagMs []*index.Matcher
	for _, m := range ms {
		switch m.Name() {
		case model.MetricName:
			nameMs = append(nameMs, m)
		case FieldLabel:
			fieldMs = append(fieldMs, m)
		default:
			tagMs = append(tagMs, m)
		}
	}
	measurements, err := t.e.Measurements()
	if err != nil {
		return nil, err
	}
	min, max := msToNs(mint), msToNs(maxt)
	if maxt < math.MaxInt64/nsPerMs {
		max += nsPerMs - 1
	}
	var out []Series
	for _, meas := range measurements {
		if !matchAll(nameMs, meas) {
			continue
		}
		ids := t.e.SelectSeries(meas, tagMs...)
		for it := ids.Iterator(); it.HasNext(); {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			info, ok := t.e.Series(it.Next())
			if !ok {
				continue
			}
			for _, f := range info.Fields {
				field := f.Name
				if !matchAll(fieldMs, labelValue(field)) {
					continue
				}
				v, _, err := t.e.Read(f.Key, min, max)
				if err != nil {
					return nil, err
				}
				if v.Len() == 0 {
					continue
				}
				samples := make([]model.Sample, v.Len())
				for i := range samples {
					samples[i] = model.Sample{T: model.FloorDiv(v.T[i], nsPerMs), V: v.Number(i)}
				}
				out = append(out, Series{Labels: tsmLabels(meas, info.Tags, field), Samples: samples})
			}
		}
	}
	slices.SortFunc(out, func(a, b Series) int { return a.Labels.Compare(b.Labels) })
	return out, nil
}

// labelValue is the value a matcher sees for a field: the default field
// is stored by name but a series without __field__ has the value "".
func labelValue(field string) string {
	if field == DefaultField {
		return ""
	}
	return field
}

func tsmLabels(meas string, tags [][2]string, field string) model.Labels {
	pairs := make([]model.Label, 0, len(tags)+2)
	pairs = append(pairs, model.Label{Name: model.MetricName, Value: meas}, model.Label{Name: FieldLabel, Value: labelValue(field)})
	for _, tg := range tags {
		pairs = append(pairs, model.Label{Name: tg[0], Value: tg[1]})
	}
	l, _ := model.New(pairs...) // names come from a valid key: never empty
	return l
}

func matchAll(ms []*index.Matcher, v string) bool {
	for _, m := range ms {
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

// Compact implements Engine: flush the cache, then level compactions until
// none is due (warm) or one full compaction (cold).
func (t *TSMEngine) Compact(full bool) error {
	if _, err := t.e.Flush(); err != nil {
		return err
	}
	if full {
		_, err := t.e.Compact(true)
		return err
	}
	for {
		st, err := t.e.Compact(false)
		if err != nil || len(st.Inputs) == 0 {
			return err
		}
	}
}

// Stats implements Engine. Series counts storage keys (one per field of a
// tag set), the same unit as the block engine's label sets.
func (t *TSMEngine) Stats() (EngineStats, error) {
	ms, err := t.e.Measurements()
	if err != nil {
		return EngineStats{}, err
	}
	n := 0
	for _, m := range ms {
		keys, _, err := t.e.MeasurementKeys(m)
		if err != nil {
			return EngineStats{}, err
		}
		n += len(keys)
	}
	return EngineStats{Series: n, Files: len(t.e.Stats().Files)}, nil
}

// Close implements Engine.
func (t *TSMEngine) Close() error { return t.e.Close() }

func msToNs(ms int64) int64 {
	switch {
	case ms >= math.MaxInt64/nsPerMs:
		return math.MaxInt64
	case ms <= math.MinInt64/nsPerMs:
		return math.MinInt64
	}
	return ms * nsPerMs
}
