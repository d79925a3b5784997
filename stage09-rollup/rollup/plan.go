package rollup

import (
	"math"
	"time"
)

// Segment is one part of a query's range and the tier that serves it:
// [From, To) in ms.
type Segment struct {
	Tier     string
	Index    int // into the engine's tiers; 0 is raw
	From, To int64
}

// Plan is how a query over a range reads the tiers: the guide's
// smart_query. From and To are the range actually covered, which differs
// from the one asked for when its ends fall inside a rollup window whose
// finer data retention has already deleted (the end then snaps to a
// window boundary), or when that tier's data is gone.
type Plan struct {
	Now      time.Time
	From, To int64
	Segments []Segment // newest first
}

// Plan routes a query over [from, to) (ms) by the clock: going back from
// to, each tier serves from where the next coarser one takes over, which
// is the first window boundary of that coarser tier at or after the start
// of this tier's retention (capped at the coarser tier's watermark: it has
// nothing newer). So the last 7 days come from raw samples, days 8–30 from
// 1-minute rollups, and so on; rollup segments are whole windows.
func (e *Engine) Plan(from, to int64) Plan {
	now := e.now()
	p := Plan{Now: now, From: from, To: to}
	n := len(e.tiers)
	wm := make([]int64, n)
	has := make([]bool, n)
	for k := range n {
		if k == 0 {
			wm[k], has[k] = math.MaxInt64, true
		} else {
			wm[k], has[k] = e.watermark(k)
		}
	}
	lo := func(k int) int64 { // start of what tier k is sure to keep
		r := e.tiers[k].Retention.Milliseconds()
		if r == 0 {
			return math.MinInt64
		}
		return now.UnixMilli() - r
	}
	cur := to
	first := true
	for k := 0; k < n && cur > from; k++ {
		if !has[k] {
			continue
		}
		res := e.tiers[k].res()
		if k > 0 {
			c := min(floorTo(cur, res), wm[k])
			if first {
				p.To = c
			}
			cur = c
		}
		// Where the next tier that has data takes over: nowhere if
		// this one still keeps the start of the range.
		b := int64(math.MinInt64)
		for j := k + 1; j < n && from < lo(k); j++ {
			if has[j] {
				b = min(ceilTo(lo(k), e.tiers[j].res()), wm[j])
				break
			}
		}
		if b <= from {
			b = from
			if k > 0 {
				b = max(floorTo(from, res), ceilToSafe(lo(k), res))
			}
		}
		if b < cur {
			p.Segments = append(p.Segments, Segment{Tier: e.tiers[k].Name, Index: k, From: b, To: cur})
			first = false
			cur = b
		}
	}
	if len(p.Segments) == 0 {
		p.From, p.To = from, from
	} else {
		p.From = p.Segments[len(p.Segments)-1].From
	}
	return p
}

// PlanTier is a plan that reads tier k only: the raw-only scan the
// routed plan is compared with, and what oracle tests check each tier by.
// A rollup tier's range is widened to whole windows.
func (e *Engine) PlanTier(k int, from, to int64) Plan {
	if res := e.tiers[k].res(); res > 0 {
		from, to = floorTo(from, res), ceilTo(to, res)
	}
	return Plan{Now: e.now(), From: from, To: to, Segments: []Segment{{Tier: e.tiers[k].Name, Index: k, From: from, To: to}}}
}

func ceilToSafe(t, n int64) int64 {
	if t == math.MinInt64 {
		return t
	}
	return ceilTo(t, n)
}
