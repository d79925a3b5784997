package rollup

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// SegmentResult is what reading one segment cost.
type SegmentResult struct {
	Segment
	// Points read: raw samples, or rollup points (one per series per
	// window; each is four stored samples, and a sketch for percentiles).
	Points int64
	// RawPoints is what a raw-only scan of the segment would have read:
	// the raw samples, or the sum of the rollup points' counts.
	RawPoints int64
	Elapsed   time.Duration
}

// Result is a query's answer: the aggregate of every matching series over
// the plan's range, and what each segment cost.
type Result struct {
	Query     *Query
	Plan      Plan
	Segments  []SegmentResult
	Aggregate Aggregate
	Value     float64 // Aggregate.Value(Query.Func)
	Series    int     // distinct series that contributed
	Elapsed   time.Duration
}

// Points is the total read; RawPoints what raw-only would have read.
func (r *Result) Points() (points, raw int64) {
	for _, s := range r.Segments {
		points += s.Points
		raw += s.RawPoints
	}
	return points, raw
}

// Query plans (Plan) and executes (Execute) q over [from, to) (ms).
func (e *Engine) Query(ctx context.Context, q *Query, from, to int64) (*Result, error) {
	return e.Execute(ctx, q, e.Plan(from, to))
}

// Execute runs a plan: every segment is reduced into one Aggregate
// (count and sum add, min and max take the extreme, sketches merge), so
// the result is the same whichever tiers served the range — exactly for
// count, sum, min and max, within the sketch's accuracy for percentiles.
func (e *Engine) Execute(ctx context.Context, q *Query, p Plan) (*Result, error) {
	start := time.Now()
	res := &Result{Query: q, Plan: p, Aggregate: NewAggregate(q.Func.NeedsSketch())}
	series := map[string]bool{}
	for _, seg := range p.Segments {
		t0 := time.Now()
		sr := SegmentResult{Segment: seg}
		var err error
		switch {
		case seg.Index == 0:
			err = e.scanRaw(ctx, seg, q.Matchers, &res.Aggregate, &sr, series)
		case q.Func.NeedsSketch():
			err = e.scanSketches(ctx, seg, q.Matchers, &res.Aggregate, &sr, series)
		default:
			err = e.scanRollups(ctx, seg, q.Matchers, &res.Aggregate, &sr, series)
		}
		if err != nil {
			return nil, err
		}
		sr.Elapsed = time.Since(t0)
		res.Segments = append(res.Segments, sr)
	}
	res.Series = len(series)
	res.Value = res.Aggregate.Value(q.Func)
	res.Elapsed = time.Since(start)
	return res, nil
}

// scanRaw reads a raw segment one raw shard window (a day) at a time, so
// a scan of a year holds a day in memory, not a year.
func (e *Engine) scanRaw(ctx context.Context, seg Segment, ms []*index.Matcher, agg *Aggregate, sr *SegmentResult, series map[string]bool) error {
	step := e.tiers[0].shardDuration()
	for from := seg.From; from < seg.To; {
		to := min(seg.To, step.Start(from)+step.Milliseconds())
		ss, _, err := e.mgrs[0].Select(ctx, from, to-1, ms...)
		if err != nil {
			return fmt.Errorf("rollup: raw: %w", err)
		}
		for _, s := range ss {
			series[s.Labels.String()] = true
			for _, sm := range s.Samples {
				agg.Add(sm.V)
			}
			sr.Points += int64(len(s.Samples))
		}
		from = to
	}
	sr.RawPoints = sr.Points
	return nil
}

// scanRollups reduces each aggregate series of a rollup segment on its
// own: counts and sums add, mins and maxes take the extreme. The four
// series of a window are never joined, so avg over a year is four sums.
func (e *Engine) scanRollups(ctx context.Context, seg Segment, ms []*index.Matcher, agg *Aggregate, sr *SegmentResult, series map[string]bool) error {
	ss, _, err := e.mgrs[seg.Index].Select(ctx, seg.From, seg.To-1, ms...)
	if err != nil {
		return fmt.Errorf("rollup: tier %s: %w", seg.Tier, err)
	}
	part := Aggregate{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, s := range ss {
		switch s.Labels.Get(AggLabel) {
		case "count":
			series[s.Labels.Without(AggLabel).String()] = true
			sr.Points += int64(len(s.Samples))
			for _, sm := range s.Samples {
				part.Count += int64(sm.V)
			}
		case "sum":
			for _, sm := range s.Samples {
				part.Sum += sm.V
			}
		case "min":
			for _, sm := range s.Samples {
				part.Min = min(part.Min, sm.V)
			}
		case "max":
			for _, sm := range s.Samples {
				part.Max = max(part.Max, sm.V)
			}
		}
	}
	sr.RawPoints = part.Count
	return agg.Merge(part)
}

// scanSketches reads a rollup segment window by window, sketches
// included, and merges every window into agg.
func (e *Engine) scanSketches(ctx context.Context, seg Segment, ms []*index.Matcher, agg *Aggregate, sr *SegmentResult, series map[string]bool) error {
	rs, err := e.readRollups(ctx, seg.Index, seg.From, seg.To, ms, true)
	if err != nil {
		return err
	}
	for _, s := range rs {
		series[s.labels.String()] = true
		for _, p := range s.points {
			sr.Points++
			sr.RawPoints += p.agg.Count
			if err := agg.Merge(p.agg); err != nil {
				return err
			}
		}
	}
	return nil
}

// Point is one window of a rollup series.
type Point struct {
	T int64 // window start, ms
	Aggregate
}

// RollupSeries is one series of a rollup tier.
type RollupSeries struct {
	Labels model.Labels // the raw series' labels (without AggLabel)
	Points []Point
}

// ReadTier returns the windows of rollup tier k (k ≥ 1) that start in
// [from, to) of the series matching every matcher, sorted by labels, with
// their sketches if withSketch.
func (e *Engine) ReadTier(ctx context.Context, k int, from, to int64, withSketch bool, ms ...*index.Matcher) ([]RollupSeries, error) {
	if k < 1 || k >= len(e.tiers) {
		return nil, fmt.Errorf("%w: no rollup tier %d", ErrConfig, k)
	}
	rs, err := e.readRollups(ctx, k, from, to, ms, withSketch)
	if err != nil {
		return nil, err
	}
	out := make([]RollupSeries, len(rs))
	for i, s := range rs {
		out[i] = RollupSeries{Labels: s.labels, Points: make([]Point, len(s.points))}
		for j, p := range s.points {
			out[i].Points[j] = Point{T: p.t, Aggregate: p.agg}
		}
	}
	return out, nil
}

// readRollups reads tier k's windows in [from, to): the four aggregate
// series of each raw series joined by timestamp, and (withSketch) each
// window's newest sketch. A window without its sketch is ErrCorrupt: the
// job writes the sketch first.
func (e *Engine) readRollups(ctx context.Context, k int, from, to int64, ms []*index.Matcher, withSketch bool) ([]rollSeries, error) {
	ss, _, err := e.mgrs[k].Select(ctx, from, to-1, ms...)
	if err != nil {
		return nil, fmt.Errorf("rollup: tier %s: %w", e.tiers[k].Name, err)
	}
	type group struct {
		labels model.Labels
		fields [4][]model.Sample
	}
	byKey := map[string]*group{}
	var keys []string
	for _, s := range ss {
		i := slices.Index(aggNames[:], s.Labels.Get(AggLabel))
		if i < 0 {
			continue
		}
		base := s.Labels.Without(AggLabel)
		key := base.String()
		g, ok := byKey[key]
		if !ok {
			g = &group{labels: base}
			byKey[key] = g
			keys = append(keys, key)
		}
		g.fields[i] = s.Samples
	}
	out := make([]rollSeries, 0, len(keys))
	pos := map[string]int{}
	for _, key := range keys {
		g := byKey[key]
		rs := rollSeries{labels: g.labels, points: make([]rollPoint, len(g.fields[0]))}
		for j, sm := range g.fields[0] {
			rs.points[j] = rollPoint{t: sm.T, agg: Aggregate{Count: int64(sm.V)}}
		}
		for f := 1; f < 4; f++ {
			j := 0
			for _, sm := range g.fields[f] {
				for j < len(rs.points) && rs.points[j].t < sm.T {
					j++
				}
				if j == len(rs.points) || rs.points[j].t != sm.T {
					continue
				}
				a := &rs.points[j].agg
				switch f {
				case 1:
					a.Sum = sm.V
				case 2:
					a.Min = sm.V
				case 3:
					a.Max = sm.V
				}
			}
		}
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b rollSeries) int { return a.labels.Compare(b.labels) })
	for i, s := range out {
		pos[s.labels.String()] = i
	}
	if !withSketch {
		return out, nil
	}
	recs, err := e.sketches[k].read(from, to, ms)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		i, ok := pos[r.labels.String()]
		if !ok {
			continue // the sketch of a window whose samples are not written yet
		}
		pts := out[i].points
		j := sort.Search(len(pts), func(j int) bool { return pts[j].t >= r.t })
		if j < len(pts) && pts[j].t == r.t {
			pts[j].agg.Sketch = r.sk
		}
	}
	for _, s := range out {
		for _, p := range s.points {
			if p.agg.Sketch == nil {
				return nil, fmt.Errorf("%w: tier %s: %s window %s has no sketch", ErrCorrupt, e.tiers[k].Name,
					s.labels, time.UnixMilli(p.t).UTC().Format(time.RFC3339))
			}
		}
	}
	return out, nil
}
