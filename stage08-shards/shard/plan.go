package shard

import "time"

// Plan is what a query will do before it does it: the shards whose window
// overlaps [MinT, MaxT], how many workers read them, and how many points
// it expects.
type Plan struct {
	MinT, MaxT int64 // ms, inclusive
	Shards     []PlannedShard
	Workers    int
	// EstimatedPoints sums, over the planned shards, the points written
	// to each times the share of its window the range covers: exact for
	// evenly spread data, with no matcher.
	EstimatedPoints int64

	shards []*shard
}

// PlannedShard is one shard a plan reads.
type PlannedShard struct {
	ID         string
	Start, End time.Time
	State      State
}

// Plan returns the plan of a query over [mint, maxt] (ms, inclusive): the
// guide's "shard.end_time >= start_time AND shard.start_time <= end_time",
// with end exclusive.
func (m *Manager) Plan(mint, maxt int64) Plan {
	p := Plan{MinT: mint, MaxT: maxt}
	for _, sh := range m.sorted() {
		if sh.end <= mint || sh.start > maxt {
			continue
		}
		sh.mu.RLock()
		st := sh.state
		sh.mu.RUnlock()
		p.shards = append(p.shards, sh)
		p.Shards = append(p.Shards, PlannedShard{ID: sh.id, Start: time.UnixMilli(sh.start).UTC(), End: time.UnixMilli(sh.end).UTC(), State: st})
		lo, hi := max(mint, sh.start), min(maxt, sh.end-1)
		p.EstimatedPoints += int64(float64(sh.points.Load()) * float64(hi-lo+1) / float64(sh.end-sh.start))
	}
	p.Workers = min(m.workers, len(p.shards))
	return p
}
