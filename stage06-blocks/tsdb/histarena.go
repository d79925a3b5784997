package tsdb

import (
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// histArena hands out histograms carved from a few large blocks instead
// of allocating each one and its slices: a query that decodes a series
// of thousands of histograms makes a handful of allocations, not four a
// sample. Nothing it handed out is ever reused: each histogram belongs to
// whoever got it, as if allocated alone (the blocks live as long as any
// histogram in them does). The zero value is ready to use.
type histArena struct {
	hs     []histogram.Histogram
	fhs    []histogram.FloatHistogram
	ints   []int64
	floats []float64
	spans  []histogram.Span

	// A float chunk's decode (decodeAny), reused chunk after chunk: its
	// samples are copied out, so this is never handed out.
	ts   []int64
	vs   []float64
	cold chunks.ColdScratch
}

// take returns n elements of *buf, a new block when fewer remain; the
// result's capacity is n, so that an append to it cannot reach into the
// next one's. Blocks start small and double: a histogram kept keeps its
// whole block, and a read of a few (an instant query's lookback over
// many series) would otherwise pin tens of KiB a series.
func take[T any](buf *[]T, n int) []T {
	if cap(*buf)-len(*buf) < n {
		*buf = make([]T, 0, max(n, min(2*cap(*buf), 1<<14), 8))
	}
	l := len(*buf)
	*buf = (*buf)[:l+n]
	return (*buf)[l : l+n : l+n]
}

// cloneInto copies src into the arena's buf; nil stays nil and empty
// stays empty, as Copy keeps them.
func cloneInto[T any](buf *[]T, src []T) []T {
	if len(src) == 0 {
		return src[:0:0]
	}
	out := take(buf, len(src))
	copy(out, src)
	return out
}

// copyHistogram is h.Copy() in the arena.
func (a *histArena) copyHistogram(h *histogram.Histogram) *histogram.Histogram {
	c := &take(&a.hs, 1)[0]
	*c = *h
	c.PositiveSpans, c.NegativeSpans = cloneInto(&a.spans, h.PositiveSpans), cloneInto(&a.spans, h.NegativeSpans)
	c.PositiveBuckets, c.NegativeBuckets = cloneInto(&a.ints, h.PositiveBuckets), cloneInto(&a.ints, h.NegativeBuckets)
	c.CustomValues = cloneInto(&a.floats, h.CustomValues)
	return c
}

// copyFloatHistogram is h.Copy() in the arena.
func (a *histArena) copyFloatHistogram(h *histogram.FloatHistogram) *histogram.FloatHistogram {
	c := &take(&a.fhs, 1)[0]
	*c = *h
	c.PositiveSpans, c.NegativeSpans = cloneInto(&a.spans, h.PositiveSpans), cloneInto(&a.spans, h.NegativeSpans)
	c.PositiveBuckets, c.NegativeBuckets = cloneInto(&a.floats, h.PositiveBuckets), cloneInto(&a.floats, h.NegativeBuckets)
	c.CustomValues = cloneInto(&a.floats, h.CustomValues)
	return c
}

// toFloat is h.ToFloat() in the arena.
func (a *histArena) toFloat(h *histogram.Histogram) *histogram.FloatHistogram {
	c := &take(&a.fhs, 1)[0]
	*c = histogram.FloatHistogram{CounterResetHint: h.CounterResetHint, Schema: h.Schema, ZeroThreshold: h.ZeroThreshold,
		ZeroCount: float64(h.ZeroCount), Count: float64(h.Count), Sum: h.Sum,
		PositiveSpans: cloneInto(&a.spans, h.PositiveSpans), NegativeSpans: cloneInto(&a.spans, h.NegativeSpans),
		PositiveBuckets: a.absolute(h.PositiveBuckets), NegativeBuckets: a.absolute(h.NegativeBuckets),
		CustomValues: cloneInto(&a.floats, h.CustomValues)}
	return c
}

// absolute turns bucket deltas into counts, in the arena.
func (a *histArena) absolute(deltas []int64) []float64 {
	if len(deltas) == 0 {
		if deltas == nil {
			return nil
		}
		return []float64{}
	}
	out := take(&a.floats, len(deltas))
	var c int64
	for i, d := range deltas {
		c += d
		out[i] = float64(c)
	}
	return out
}
