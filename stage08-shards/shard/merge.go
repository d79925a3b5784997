package shard

import (
	"container/heap"

	"github.com/tsdb-course/stage01-memstore/model"
)

// mergeSeries merges per-shard results (each sorted by labels) into one
// list sorted by labels: a heap of one cursor per shard yields the
// smallest label set next; the runs of the same series from several shards
// are merged by time (mergeSamples).
func mergeSeries(sets [][]Series) []Series {
	h := &seriesHeap{}
	total := 0
	for i, s := range sets {
		if len(s) > 0 {
			h.cur = append(h.cur, seriesCursor{set: i, s: s})
			total += len(s)
		}
	}
	if len(h.cur) == 1 {
		return h.cur[0].s
	}
	heap.Init(h)
	out := make([]Series, 0, total)
	var runs [][]model.Sample
	for h.Len() > 0 {
		lset := h.cur[0].s[0].Labels
		runs = runs[:0]
		// Shards are visited oldest first (p.shards is sorted), and the
		// heap breaks label ties by shard, so runs come oldest first.
		for h.Len() > 0 && h.cur[0].s[0].Labels.Equal(lset) {
			runs = append(runs, h.cur[0].s[0].Samples)
			h.cur[0].s = h.cur[0].s[1:]
			if len(h.cur[0].s) == 0 {
				heap.Pop(h)
			} else {
				heap.Fix(h, 0)
			}
		}
		out = append(out, Series{Labels: lset, Samples: mergeSamples(runs)})
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

// mergeSamples k-way merges runs sorted by time into one sorted run. On
// equal timestamps the later run wins (runs come oldest shard first;
// time windows are disjoint, so this only matters for a run given twice).
// One run is returned as it is; otherwise a heap of cursors picks the
// smallest head each step: O(n log k).
func mergeSamples(runs [][]model.Sample) []model.Sample {
	switch len(runs) {
	case 0:
		return nil
	case 1:
		return runs[0]
	}
	n := 0
	h := &sampleHeap{}
	for i, r := range runs {
		n += len(r)
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
