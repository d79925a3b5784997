package shard

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage07-tsm/influxql"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// QueryResult is an InfluxQL answer over the shards with its plan.
type QueryResult struct {
	*influxql.Result
	Plan Plan
	// Points is the number of samples the shards returned for the query's
	// series and time range (Result.Points counts those the query used).
	Points int
}

// InfluxQL runs stage07's InfluxQL subset over every shard the query's
// time range overlaps. The query is parsed by stage07 and executed by
// stage07's influxql.Exec against a view of the shards (sharded below):
// each SelectSeries the executor makes (one per conjunction of the WHERE
// clause) is one parallel cross-shard Select; the series it returns are
// grouped into InfluxDB series (tag sets with fields) and served to the
// executor's Reads from memory. So raw queries, WHERE, GROUP BY time and
// the aggregates mean its semantics exactly, whatever the sharding.
//
// A date-only time literal ('2024-01-14', as in the guide) is read as
// midnight UTC, as InfluxDB (and stage07's parser) reads it.
func (m *Manager) InfluxQL(ctx context.Context, q string, now time.Time) (*QueryResult, error) {
	ast, err := influxql.Parse(q)
	if err != nil {
		return nil, err
	}
	min, max, err := ast.TimeRange(now)
	if err != nil {
		return nil, err
	}
	v := &sharded{ctx: ctx, m: m, plan: m.Plan(nsToMsCeil(min), model.FloorDiv(max, nsPerMs)), ids: map[string]index.SeriesID{}}
	res, err := influxql.Exec(v, ast, now)
	if err == nil {
		err = v.err
	}
	if err != nil {
		return nil, err
	}
	return &QueryResult{Result: res, Plan: v.plan, Points: v.points}, nil
}

func nsToMsCeil(ns int64) int64 {
	if ns == math.MinInt64 {
		return math.MinInt64
	}
	return -model.FloorDiv(-ns, nsPerMs)
}

// sharded is the influxql.Storage the executor sees: the shards of one
// plan. IDs are assigned per query, in the order series are first seen.
type sharded struct {
	ctx    context.Context
	m      *Manager
	plan   Plan
	err    error
	points int

	ids    map[string]index.SeriesID // series key → id
	series []tsm.SeriesInfo
	data   map[string][]model.Sample // storage key → samples
}

// SelectSeries implements influxql.Storage: one cross-shard Select of
// {__name__=m, ms…} over the plan.
func (s *sharded) SelectSeries(meas string, ms ...*index.Matcher) *roaring.Bitmap {
	out := roaring.New()
	if s.err != nil {
		return out
	}
	name, err := index.NewMatcher(index.MatchEqual, model.MetricName, meas)
	if err != nil {
		s.err = err
		return out
	}
	res, err := s.m.Run(s.ctx, s.plan, append([]*index.Matcher{name}, ms...)...)
	if err != nil {
		s.err = err
		return out
	}
	if s.data == nil {
		s.data = map[string][]model.Sample{}
	}
	var key []byte
	var tb tsmBatch
	for _, r := range res {
		var err error
		if key, err = tb.appendKey(key[:0], r.Labels); err != nil {
			s.err = err
			return out
		}
		series, field, _ := tsm.SplitKey(string(key))
		id, ok := s.ids[series]
		if !ok {
			id = index.SeriesID(len(s.series))
			s.ids[series] = id
			info := tsm.SeriesInfo{Key: series, Measurement: meas}
			for l := range r.Labels.All() {
				if l.Name != model.MetricName && l.Name != FieldLabel {
					info.Tags = append(info.Tags, [2]string{l.Name, l.Value})
				}
			}
			s.series = append(s.series, info)
		}
		info := &s.series[id]
		fk := tsm.FieldKey(series, field)
		if _, seen := s.data[fk]; !seen {
			info.Fields = append(info.Fields, tsm.Field{Name: field, Key: fk, Type: tsm.FloatType})
			slices.SortFunc(info.Fields, func(a, b tsm.Field) int { return strings.Compare(a.Name, b.Name) })
			s.points += len(r.Samples)
		}
		s.data[fk] = r.Samples
		out.Add(uint32(id))
	}
	return out
}

// Series implements influxql.Storage.
func (s *sharded) Series(id index.SeriesID) (tsm.SeriesInfo, bool) {
	if int(id) >= len(s.series) {
		return tsm.SeriesInfo{}, false
	}
	return s.series[id], true
}

// Read implements influxql.Storage from the samples SelectSeries fetched.
func (s *sharded) Read(key string, min, max int64) (tsm.Values, tsm.ReadStats, error) {
	v := tsm.Values{Type: tsm.FloatType}
	for _, sm := range s.data[key] {
		if t := msToNs(sm.T); t >= min && t <= max {
			v.Append(t, math.Float64bits(sm.V), "")
		}
	}
	return v, tsm.ReadStats{}, nil
}
