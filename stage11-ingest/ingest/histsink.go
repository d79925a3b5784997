package ingest

import (
	"context"
	"errors"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// Histogram is one native histogram sample for a HistogramSink: exactly
// one of H and FH set.
type Histogram struct {
	Labels model.Labels
	T      int64
	H      *histogram.Histogram
	FH     *histogram.FloatHistogram
}

// HistogramSink stores native histograms. They do not go through the
// pipeline, whose batches carry float points: a listener hands a
// request's histograms to the sink after the pipeline has acknowledged
// its floats, and answers only once WriteHistograms has returned, which
// it does once the histograms are durable (for a storage engine: in its
// WAL). Histograms are a few per scrape against hundreds of floats, so
// one commit per request costs little.
type HistogramSink interface {
	// WriteHistograms stores hs and returns how many it refused and the
	// first refusal's error; err is a failure of the whole write.
	WriteHistograms(ctx context.Context, hs []Histogram) (refused int, first error, err error)
}

// WriteHistograms implements HistogramSink with one stage06 appender.
func (s *BlocksSink) WriteHistograms(ctx context.Context, hs []Histogram) (refused int, first error, err error) {
	if len(hs) == 0 {
		return 0, nil, nil
	}
	app := s.db.Appender(ctx)
	for _, h := range hs {
		if _, err := app.AppendHistogram(0, h.Labels, h.T, h.H, h.FH); err != nil {
			if errors.Is(err, tsdb.ErrClosed) {
				return refused, first, err
			}
			if first == nil {
				first = err
			}
			refused++
		}
	}
	if err := app.Commit(); err != nil {
		var ce *tsdb.CommitError
		if !errors.As(err, &ce) {
			return refused, first, err
		}
		refused += ce.Refused()
		if first == nil {
			first = err
		}
	}
	return refused, first, nil
}
