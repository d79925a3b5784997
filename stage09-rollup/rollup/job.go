package rollup

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

// TierReport is what one Run did for one rollup tier.
type TierReport struct {
	Tier string
	// From, To: the new windows processed, [From, To) in ms (From == To:
	// none). The next run starts at To.
	From, To int64
	Windows  int   // new windows processed (with or without data)
	Dirty    int   // dirty windows recomputed
	Points   int64 // rollup points written (series × windows with data)
	Read     int64 // source points read (raw samples or finer rollup points)
	Skipped  int   // windows not computed because the tier's retention already dropped them
}

// Report is what one Run did.
type Report struct {
	Now         time.Time
	Tiers       []TierReport // one per rollup tier
	Transitions []shard.Transition
	Duration    time.Duration
}

// chunk is how much of a tier's new windows one step reads and commits:
// at least a day (so a step reads about one raw shard), at least one
// window.
func chunkLen(t Tier) int64 { return max(t.res(), day.Milliseconds()) }

// Run runs every rollup job once, finest tier first, so that each tier
// reads what the previous one just wrote (the guide's run_rollup_job):
//
//  1. the tier's dirty windows are recomputed from its source tier and
//     rewritten (the newest write of a timestamp wins in the TSM shards
//     and in the sketch files, so a rewrite replaces), and the parent of
//     each in the next tier is marked dirty if that tier already rolled
//     it up;
//  2. the new complete windows, from the watermark to the last window
//     that ended by the clock (and, for tiers above the first, that the
//     source tier has finished), are computed a day at a time; after each
//     step the watermark moves and the state file is replaced, so a
//     restart resumes exactly there — no window skipped, none repeated.
//
// Then the shards' lifecycle runs (shard.Manager.Tier): raw shards that
// ended AcceptLate ago become read-only and are compacted.
func (e *Engine) Run(ctx context.Context) (*Report, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	start := time.Now()
	now := e.now()
	rep := &Report{Now: now}
	for k := 1; k < len(e.tiers); k++ {
		tr, err := e.runTier(ctx, k, now.UnixMilli())
		rep.Tiers = append(rep.Tiers, tr)
		if err != nil {
			return rep, err
		}
	}
	for i, m := range e.mgrs {
		tr, err := m.Tier(ctx)
		rep.Transitions = append(rep.Transitions, tr...)
		if err != nil {
			return rep, fmt.Errorf("rollup: tier %s: %w", e.tiers[i].Name, err)
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

func (e *Engine) runTier(ctx context.Context, k int, now int64) (TierReport, error) {
	t := e.tiers[k]
	res := t.res()
	tr := TierReport{Tier: t.Name}

	// 1. Dirty windows. Write marks a raw window dirty before its
	// samples land, so the first tier takes its snapshot with claimMu
	// held exclusively: every write whose mark it sees has finished, and
	// the recomputation cannot run between a mark and its samples.
	if k == 1 {
		e.claimMu.Lock()
	}
	e.stMu.Lock()
	dirty := maps.Clone(e.dirty[k])
	e.stMu.Unlock()
	if k == 1 {
		e.claimMu.Unlock()
	}
	if len(dirty) > 0 {
		ws := slices.Sorted(maps.Keys(dirty))
		var parents []int64
		for _, w := range ws {
			if err := ctx.Err(); err != nil {
				return tr, err
			}
			if err := e.compute(ctx, k, w, w+res, &tr); err != nil {
				return tr, err
			}
			tr.Dirty++
			if k+1 < len(e.tiers) {
				p := floorTo(w, e.tiers[k+1].res())
				if wm, ok := e.watermark(k + 1); ok && p < wm && (len(parents) == 0 || parents[len(parents)-1] != p) {
					parents = append(parents, p)
				}
			}
		}
		e.stMu.Lock()
		for w, seq := range dirty {
			if e.dirty[k][w] == seq { // not marked again meanwhile
				delete(e.dirty[k], w)
			}
		}
		for _, p := range parents {
			e.seq++
			e.dirty[k+1][p] = e.seq
		}
		err := e.saveLocked()
		e.stMu.Unlock()
		if err != nil {
			return tr, err
		}
	}

	// 2. New windows.
	from, ok := e.watermark(k)
	if !ok {
		first, found := e.firstSource(k)
		if !found {
			return tr, nil
		}
		from = floorTo(first, res)
	}
	to := floorTo(now, res)
	if k > 1 {
		src, ok := e.watermark(k - 1)
		if !ok {
			return tr, nil
		}
		to = min(to, floorTo(src, res))
	}
	tr.From, tr.To = from, max(from, to)
	if to <= from {
		tr.To = from
		return tr, nil
	}
	if k == 1 {
		e.claimMu.Lock()
		e.claimed = max(e.claimed, to)
		e.claimMu.Unlock()
	}
	// Windows whose shard retention has already deleted (or would refuse
	// to create) are counted, not computed.
	if r := t.Retention.Milliseconds(); r > 0 {
		keep := ceilTo(t.shardDuration().Start(now-r), res)
		if keep > from {
			n := (min(keep, to) - from) / res
			tr.Skipped += int(n)
			tr.Windows += int(n)
			from = min(keep, to)
		}
	}
	cl := chunkLen(t)
	for from < to {
		if err := ctx.Err(); err != nil {
			return tr, err
		}
		end := min(to, floorTo(from, cl)+cl)
		if err := e.compute(ctx, k, from, end, &tr); err != nil {
			return tr, err
		}
		tr.Windows += int((end - from) / res)
		e.stMu.Lock()
		wm := end
		e.st.Tiers[k].Watermark = &wm
		last := e.st.Tiers[k].Last
		if last == nil || last.At != now || last.To != from {
			last = &runLog{At: now, From: from}
		}
		last.To, last.Windows = end, last.Windows+int((end-from)/res)
		e.st.Tiers[k].Last = last
		err := e.saveLocked()
		e.stMu.Unlock()
		if err != nil {
			return tr, err
		}
		from = end
	}
	return tr, nil
}

// firstSource is the start of the oldest shard of tier k's source.
func (e *Engine) firstSource(k int) (int64, bool) {
	p := e.mgrs[k-1].Plan(math.MinInt64, math.MaxInt64)
	if len(p.Shards) == 0 {
		return 0, false
	}
	return p.Shards[0].Start.UnixMilli(), true
}

// compute rolls up the windows of tier k in [from, to) from tier k−1 and
// writes them: sketches first, then the count/sum/min/max samples, so
// that a reader (and a crash) can find a sketch without its window but
// never a window without its sketch.
func (e *Engine) compute(ctx context.Context, k int, from, to int64, tr *TierReport) error {
	res := e.tiers[k].res()
	series, read, err := e.aggregateSource(ctx, k-1, from, to, res)
	if err != nil {
		return err
	}
	tr.Read += read
	var recs []sketchRec
	var batch []shard.Series
	for _, s := range series {
		var out [4]shard.Series
		for i, name := range aggNames {
			l, err := s.labels.With(AggLabel, name)
			if err != nil {
				return err
			}
			out[i] = shard.Series{Labels: l, Samples: make([]model.Sample, 0, len(s.points))}
		}
		for _, p := range s.points {
			a := p.agg
			if a.Count == 0 {
				continue // only NaN or ±Inf in the window
			}
			out[0].Samples = append(out[0].Samples, model.Sample{T: p.t, V: float64(a.Count)})
			out[1].Samples = append(out[1].Samples, model.Sample{T: p.t, V: a.Sum})
			out[2].Samples = append(out[2].Samples, model.Sample{T: p.t, V: a.Min})
			out[3].Samples = append(out[3].Samples, model.Sample{T: p.t, V: a.Max})
			recs = append(recs, sketchRec{labels: s.labels, t: p.t, sk: a.Sketch})
		}
		tr.Points += int64(len(out[0].Samples))
		batch = append(batch, out[:]...)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := e.sketches[k].append(recs); err != nil {
		return err
	}
	if err := e.mgrs[k].Write(batch); err != nil {
		return fmt.Errorf("rollup: tier %s: %w", e.tiers[k].Name, err)
	}
	return nil
}

// rollSeries is one series' aggregates, one per window, in time order.
type rollSeries struct {
	labels model.Labels // without AggLabel
	points []rollPoint
}

type rollPoint struct {
	t   int64
	agg Aggregate
}

// aggregateSource reads tier src over [from, to) and aggregates it into
// windows of res ms, with sketches; read is the source points read.
func (e *Engine) aggregateSource(ctx context.Context, src int, from, to, res int64) ([]rollSeries, int64, error) {
	var read int64
	if src == 0 {
		raw, _, err := e.mgrs[0].Select(ctx, from, to-1)
		if err != nil {
			return nil, 0, fmt.Errorf("rollup: reading raw: %w", err)
		}
		out := make([]rollSeries, 0, len(raw))
		for _, s := range raw {
			rs := rollSeries{labels: s.Labels}
			for _, sm := range s.Samples {
				w := floorTo(sm.T, res)
				if n := len(rs.points); n == 0 || rs.points[n-1].t != w {
					rs.points = append(rs.points, rollPoint{t: w, agg: NewAggregate(true)})
				}
				rs.points[len(rs.points)-1].agg.Add(sm.V)
			}
			read += int64(len(s.Samples))
			if len(rs.points) > 0 {
				out = append(out, rs)
			}
		}
		return out, read, nil
	}
	fine, err := e.readRollups(ctx, src, from, to, nil, true)
	if err != nil {
		return nil, 0, err
	}
	for i := range fine {
		s := &fine[i]
		read += int64(len(s.points))
		var merged []rollPoint
		for _, p := range s.points {
			w := floorTo(p.t, res)
			if n := len(merged); n == 0 || merged[n-1].t != w {
				merged = append(merged, rollPoint{t: w, agg: NewAggregate(true)})
			}
			if err := merged[len(merged)-1].agg.Merge(p.agg); err != nil {
				return nil, 0, err
			}
		}
		s.points = merged
	}
	return fine, read, nil
}
