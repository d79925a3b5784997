package otlp

import (
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// OpenTelemetry's exponential histogram is a native histogram under
// another name: scale is the schema (bucket boundaries at powers of
// 2^(2^-scale)), and the buckets are a dense array of counts from an
// offset. Three things differ:
//
//   - Index: OTLP bucket i holds (base^i, base^(i+1)]; a native
//     histogram's bucket i holds (base^(i-1), base^i]. OTLP index i is
//     native index i+1.
//   - Resolution: OTLP scales go up to 20; native schemas stop at 8. A
//     finer histogram is scaled down: 2^(scale-8) neighbouring OTLP buckets
//     merge into one (index i >> (scale-8)), exactly, because the coarse
//     boundaries are a subset of the fine ones.
//   - Layout: OTLP counts every bucket from the offset, zeros included;
//     a native histogram lists populated runs as spans. A gap of one or
//     two empty buckets is cheaper stored as zeros than as a new span (as
//     Prometheus's client libraries do); a longer gap starts a new span.
//
// Zero threshold: the data point's, when it gives one; otherwise 1e-128,
// the near-zero Prometheus uses (its translator ignores the field).
const otlpZeroThreshold = 1e-128

// NativeHistogram converts an exponential histogram data point to an
// integer native histogram, as Prometheus's OTLP receiver does. A scale
// below -4 (no native schema is that coarse) is an error.
func NativeHistogram(p *metrics.ExponentialHistogramDataPoint) (*histogram.Histogram, error) {
	scale := p.GetScale()
	if scale < histogram.MinSchema {
		return nil, fmt.Errorf("exponential histogram scale %d: native histograms go down to schema %d", scale, histogram.MinSchema)
	}
	var down int32
	if scale > histogram.MaxSchema {
		down, scale = scale-histogram.MaxSchema, histogram.MaxSchema
	}
	h := &histogram.Histogram{
		Schema:        scale,
		ZeroThreshold: p.GetZeroThreshold(),
		ZeroCount:     p.GetZeroCount(),
		Count:         p.GetCount(),
		Sum:           p.GetSum(),
	}
	if h.ZeroThreshold <= 0 {
		h.ZeroThreshold = otlpZeroThreshold
	}
	if p.GetFlags()&uint32(metrics.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
		h.Sum, h.Count = staleNaN, 0
	}
	if b := p.GetPositive(); b != nil {
		h.PositiveSpans, h.PositiveBuckets = sparseBuckets(b.GetBucketCounts(), b.GetOffset(), down)
	}
	if b := p.GetNegative(); b != nil {
		h.NegativeSpans, h.NegativeBuckets = sparseBuckets(b.GetBucketCounts(), b.GetOffset(), down)
	}
	return h, nil
}

// sparseBuckets turns OTLP's dense counts from offset into native spans
// and bucket deltas, merging 2^down OTLP buckets into each native one.
func sparseBuckets(counts []uint64, offset, down int32) ([]histogram.Span, []int64) {
	var (
		spans  []histogram.Span
		deltas []int64
		prev   int64 // the previous stored bucket's count
		last   int32 // the native index of the last stored bucket
	)
	store := func(idx int32, c int64) {
		switch gap := idx - last - 1; {
		case len(spans) == 0:
			spans = append(spans, histogram.Span{Offset: idx})
		case gap > 2:
			spans = append(spans, histogram.Span{Offset: gap})
		default:
			for range gap {
				spans[len(spans)-1].Length++
				deltas = append(deltas, -prev)
				prev = 0
			}
		}
		spans[len(spans)-1].Length++
		deltas = append(deltas, c-prev)
		prev, last = c, idx
	}
	var cur int64
	curIdx, have := int32(0), false
	for i, c := range counts {
		idx := (offset+int32(i))>>down + 1
		if have && idx != curIdx {
			if cur != 0 {
				store(curIdx, cur)
			}
			cur = 0
		}
		curIdx, have = idx, true
		cur += int64(c)
	}
	if have && cur != 0 {
		store(curIdx, cur)
	}
	return spans, deltas
}
