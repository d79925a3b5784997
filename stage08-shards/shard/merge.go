package shard

import (
	"container/heap"

	"github.com/tsdb-course/stage01-memstore/model"
)

// mergeSeries merges per-shard results (each sorted by labels) into one
// list sorted by labels (groupSeries), then merges each series' runs by
// time (mergeSamples), serially. Run does the second step on its workers.
func mergeSeries(sets [][]Series) []Series {
	groups := groupSeries(sets)
	out := make([]Series, len(groups))
	for i, g := range groups {
		out[i] = Series{Labels: g.labels, Samples: mergeSamples(g.runs)}
	}
	return out
}

// seriesRuns is one series of a query and its runs of samples, one per
// shard that holds it, oldest shard first.
type seriesRuns struct {
	labels model.Labels
	runs   [][]model.Sample
}

// groupSeries is the label half of the merge: a heap of one cursor per
// shard yields the smallest label set next, and the runs of one series
// from several shards are collected together. It touches labels only, not
// samples, so it is cheap next to the sample half.
func groupSeries(sets [][]Series) []seriesRuns {
	h := &seriesHeap{}
	total := 0
	for i, s := range sets {
		if len(s) > 0 {
			h.cur = append(h.cur, seriesCursor{set: i, s: s})
			total += len(s)
		}
	}
	heap.Init(h)
	out := make([]seriesRuns, 0, total)
	// Every group's runs are a window of one backing array: one
	// allocation rather than one per series.
	all := make([][]model.Sample, 0, total)
	for h.Len() > 0 {
		lset := h.cur[0].s[0].Labels
		start := len(all)
		// Shards are visited oldest first (p.shards is sorted), and the
		// heap breaks label ties by shard, so runs come oldest first.
		for h.Len() > 0 && h.cur[0].s[0].Labels.Equal(lset) {
			all = append(all, h.cur[0].s[0].Samples)
			h.cur[0].s = h.cur[0].s[1:]
			if len(h.cur[0].s) == 0 {
				heap.Pop(h)
			} else {
				heap.Fix(h, 0)
			}
		}
		out = append(out, seriesRuns{labels: lset, runs: all[start:len(all):len(all)]})
	}
	return out
}

type seriesCursor struct {
	set int
	s   []Series
}

type seriesHeap struct{ cur []seriesCursor }

func (h *seriesHeap) Len() int { return len(h.cur) }
func (h *seriesHeap) Less(i, j int) bool {
	if c := h.cur[i].s[0].Labels.Compare(h.cur[j].s[0].Labels); c != 0 {
		return c < 0
	}
	return h.cur[i].set < h.cur[j].set
}
func (h *seriesHeap) Swap(i, j int) { h.cur[i], h.cur[j] = h.cur[j], h.cur[i] }
func (h *seriesHeap) Push(x any)    { h.cur = append(h.cur, x.(seriesCursor)) }
func (h *seriesHeap) Pop() any {
	x := h.cur[len(h.cur)-1]
	h.cur = h.cur[:len(h.cur)-1]
	return x
}

// mergeSamples merges runs sorted by time into one sorted run. On equal
// timestamps the later run wins (runs come oldest shard first).
//
// Shards' windows are disjoint, so the runs of a series almost always
// follow one another: each starts after the previous one ends. Then the
// merge is a concatenation, one allocation of the exact size and one
// memmove per run. One run is returned as it is. Only runs that
// interleave (a run given twice, overlapping windows) take the general
// path: a heap of cursors picks the smallest head each step, O(n log k).
func mergeSamples(runs [][]model.Sample) []model.Sample {
	n, k, last := 0, 0, -1
	ordered := true
	prevMax := int64(0)
	for i, r := range runs {
		if len(r) == 0 {
			continue
		}
		if k > 0 && r[0].T <= prevMax {
			ordered = false
		}
		n += len(r)
		k++
		last = i
		prevMax = r[len(r)-1].T
	}
	switch {
	case k == 0:
		return nil
	case k == 1:
		return runs[last]
	case ordered:
		out := make([]model.Sample, 0, n)
		for _, r := range runs {
			out = append(out, r...)
		}
		return out
	}
	h := &sampleHeap{}
	for i, r := range runs {
		if len(r) > 0 {
			h.cur = append(h.cur, sampleCursor{run: i, s: r})
		}
	}
	heap.Init(h)
	out := make([]model.Sample, 0, n)
	for h.Len() > 0 {
		c := &h.cur[0]
		s := c.s[0]
		if len(out) > 0 && out[len(out)-1].T == s.T {
			out[len(out)-1] = s
		} else {
			out = append(out, s)
		}
		c.s = c.s[1:]
		if len(c.s) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return out
}

type sampleCursor struct {
	run int
	s   []model.Sample
}

type sampleHeap struct{ cur []sampleCursor }

func (h *sampleHeap) Len() int { return len(h.cur) }
func (h *sampleHeap) Less(i, j int) bool {
	if a, b := h.cur[i].s[0].T, h.cur[j].s[0].T; a != b {
		return a < b
	}
	return h.cur[i].run < h.cur[j].run
}
func (h *sampleHeap) Swap(i, j int) { h.cur[i], h.cur[j] = h.cur[j], h.cur[i] }
func (h *sampleHeap) Push(x any)    { h.cur = append(h.cur, x.(sampleCursor)) }
func (h *sampleHeap) Pop() any {
	x := h.cur[len(h.cur)-1]
	h.cur = h.cur[:len(h.cur)-1]
	return x
}
