package compare

import (
	"errors"
	"fmt"

	promhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// Native histogram chunks side by side: stage03's HistogramChunk and
// FloatHistogramChunk against Prometheus's chunkenc ones, on the same
// series, cut the same way (every ChunkSamples samples, and wherever a
// codec says the next histogram does not fit).

// HistogramSeries is one series of integer histograms.
type HistogramSeries struct {
	T []int64
	H []*histogram.Histogram
}

// FloatHistogramSeries is one series of float histograms.
type FloatHistogramSeries struct {
	T []int64
	H []*histogram.FloatHistogram
}

// HistogramData returns the side by side's integer data: series
// stage03's SyntheticHistograms series of n samples each (seeds 1…series).
func HistogramData(series, n int) ([]HistogramSeries, int) {
	out := make([]HistogramSeries, series)
	for i := range out {
		out[i].T, out[i].H = gorilla.SyntheticHistograms(n, uint64(i+1))
	}
	return out, series * n
}

// FloatHistogramData is HistogramData for SyntheticFloatHistograms.
func FloatHistogramData(series, n int) ([]FloatHistogramSeries, int) {
	out := make([]FloatHistogramSeries, series)
	for i := range out {
		out[i].T, out[i].H = gorilla.SyntheticFloatHistograms(n, uint64(i+1))
	}
	return out, series * n
}

// ToPrometheus converts a histogram to Prometheus's type, field for field.
func ToPrometheus(h *histogram.Histogram) *promhist.Histogram {
	return &promhist.Histogram{
		CounterResetHint: promhist.CounterResetHint(h.CounterResetHint),
		Schema:           h.Schema,
		ZeroThreshold:    h.ZeroThreshold,
		ZeroCount:        h.ZeroCount,
		Count:            h.Count,
		Sum:              h.Sum,
		PositiveSpans:    toPromSpans(h.PositiveSpans),
		NegativeSpans:    toPromSpans(h.NegativeSpans),
		PositiveBuckets:  h.PositiveBuckets,
		NegativeBuckets:  h.NegativeBuckets,
		CustomValues:     h.CustomValues,
	}
}

// FloatToPrometheus converts a float histogram to Prometheus's type.
func FloatToPrometheus(h *histogram.FloatHistogram) *promhist.FloatHistogram {
	return &promhist.FloatHistogram{
		CounterResetHint: promhist.CounterResetHint(h.CounterResetHint),
		Schema:           h.Schema,
		ZeroThreshold:    h.ZeroThreshold,
		ZeroCount:        h.ZeroCount,
		Count:            h.Count,
		Sum:              h.Sum,
		PositiveSpans:    toPromSpans(h.PositiveSpans),
		NegativeSpans:    toPromSpans(h.NegativeSpans),
		PositiveBuckets:  h.PositiveBuckets,
		NegativeBuckets:  h.NegativeBuckets,
		CustomValues:     h.CustomValues,
	}
}

// FromPrometheus converts Prometheus's histogram to ours (a copy).
func FromPrometheus(h *promhist.Histogram) *histogram.Histogram {
	out := &histogram.Histogram{
		CounterResetHint: histogram.CounterResetHint(h.CounterResetHint),
		Schema:           h.Schema,
		ZeroThreshold:    h.ZeroThreshold,
		ZeroCount:        h.ZeroCount,
		Count:            h.Count,
		Sum:              h.Sum,
		PositiveBuckets:  append([]int64(nil), h.PositiveBuckets...),
		NegativeBuckets:  append([]int64(nil), h.NegativeBuckets...),
		CustomValues:     append([]float64(nil), h.CustomValues...),
	}
	for _, s := range h.PositiveSpans {
		out.PositiveSpans = append(out.PositiveSpans, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	for _, s := range h.NegativeSpans {
		out.NegativeSpans = append(out.NegativeSpans, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	return out
}

// FloatFromPrometheus converts Prometheus's float histogram to ours.
func FloatFromPrometheus(h *promhist.FloatHistogram) *histogram.FloatHistogram {
	out := &histogram.FloatHistogram{
		CounterResetHint: histogram.CounterResetHint(h.CounterResetHint),
		Schema:           h.Schema,
		ZeroThreshold:    h.ZeroThreshold,
		ZeroCount:        h.ZeroCount,
		Count:            h.Count,
		Sum:              h.Sum,
		PositiveBuckets:  append([]float64(nil), h.PositiveBuckets...),
		NegativeBuckets:  append([]float64(nil), h.NegativeBuckets...),
		CustomValues:     append([]float64(nil), h.CustomValues...),
	}
	for _, s := range h.PositiveSpans {
		out.PositiveSpans = append(out.PositiveSpans, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	for _, s := range h.NegativeSpans {
		out.NegativeSpans = append(out.NegativeSpans, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	return out
}

func toPromSpans(s []histogram.Span) []promhist.Span {
	if s == nil {
		return nil
	}
	out := make([]promhist.Span, len(s))
	for i, x := range s {
		out[i] = promhist.Span{Offset: x.Offset, Length: x.Length}
	}
	return out
}

// EncodePrometheusHistograms appends the series to Prometheus histogram
// chunks as its head does (AppendHistogram, which recodes or cuts by
// itself), starting a new chunk every ChunkSamples samples, and returns
// the chunks' bytes. ph holds the series already converted to
// Prometheus's type, so that the conversion is not timed.
func EncodePrometheusHistograms(ts []int64, ph []*promhist.Histogram) ([][]byte, error) {
	var out [][]byte
	var c chunkenc.Chunk
	var app chunkenc.Appender
	for i, h := range ph {
		if c == nil || c.NumSamples() >= ChunkSamples {
			if c != nil {
				out = append(out, c.Bytes())
			}
			c = chunkenc.NewHistogramChunk()
			var err error
			if app, err = c.Appender(); err != nil {
				return nil, err
			}
		}
		// A copy: Prometheus rewrites the spans and buckets of the histogram it
		// is given when it lacks buckets of the chunk.
		hc := *h
		nc, recoded, napp, err := app.AppendHistogram(nil, 0, ts[i], &hc, false)
		if err != nil {
			return nil, fmt.Errorf("prometheus: sample %d: %w", i, err)
		}
		if nc != nil {
			if !recoded {
				out = append(out, c.Bytes())
			}
			c = nc
		}
		app = napp
	}
	if c != nil {
		out = append(out, c.Bytes())
	}
	return out, nil
}

// EncodePrometheusFloatHistograms is EncodePrometheusHistograms for float
// histograms.
func EncodePrometheusFloatHistograms(ts []int64, ph []*promhist.FloatHistogram) ([][]byte, error) {
	var out [][]byte
	var c chunkenc.Chunk
	var app chunkenc.Appender
	for i, h := range ph {
		if c == nil || c.NumSamples() >= ChunkSamples {
			if c != nil {
				out = append(out, c.Bytes())
			}
			c = chunkenc.NewFloatHistogramChunk()
			var err error
			if app, err = c.Appender(); err != nil {
				return nil, err
			}
		}
		hc := *h
		nc, recoded, napp, err := app.AppendFloatHistogram(nil, 0, ts[i], &hc, false)
		if err != nil {
			return nil, fmt.Errorf("prometheus: sample %d: %w", i, err)
		}
		if nc != nil {
			if !recoded {
				out = append(out, c.Bytes())
			}
			c = nc
		}
		app = napp
	}
	if c != nil {
		out = append(out, c.Bytes())
	}
	return out, nil
}

// EncodeGorillaHistograms appends the series to stage03 histogram chunks,
// starting a new chunk every ChunkSamples samples and whenever Append says
// the histogram does not fit.
func EncodeGorillaHistograms(ts []int64, hs []*histogram.Histogram) ([][]byte, error) {
	var out [][]byte
	var c *gorilla.HistogramChunk
	var app *gorilla.HistogramAppender
	for i, h := range hs {
		if c != nil && c.NumSamples() < ChunkSamples {
			err := app.Append(ts[i], h)
			if err == nil {
				continue
			}
			if !errors.Is(err, gorilla.ErrNotAppendable) {
				return nil, fmt.Errorf("gorilla: sample %d: %w", i, err)
			}
		}
		if c != nil {
			out = append(out, c.Bytes())
		}
		c = gorilla.NewHistogramChunk()
		var err error
		if app, err = c.Appender(); err != nil {
			return nil, err
		}
		if err := app.Append(ts[i], h); err != nil {
			return nil, fmt.Errorf("gorilla: sample %d: %w", i, err)
		}
	}
	if c != nil {
		out = append(out, c.Bytes())
	}
	return out, nil
}

// EncodeGorillaFloatHistograms is EncodeGorillaHistograms for float
// histograms.
func EncodeGorillaFloatHistograms(ts []int64, hs []*histogram.FloatHistogram) ([][]byte, error) {
	var out [][]byte
	var c *gorilla.FloatHistogramChunk
	var app *gorilla.FloatHistogramAppender
	for i, h := range hs {
		if c != nil && c.NumSamples() < ChunkSamples {
			err := app.Append(ts[i], h)
			if err == nil {
				continue
			}
			if !errors.Is(err, gorilla.ErrNotAppendable) {
				return nil, fmt.Errorf("gorilla: sample %d: %w", i, err)
			}
		}
		if c != nil {
			out = append(out, c.Bytes())
		}
		c = gorilla.NewFloatHistogramChunk()
		var err error
		if app, err = c.Appender(); err != nil {
			return nil, err
		}
		if err := app.Append(ts[i], h); err != nil {
			return nil, fmt.Errorf("gorilla: sample %d: %w", i, err)
		}
	}
	if c != nil {
		out = append(out, c.Bytes())
	}
	return out, nil
}
