package remote

import (
	"context"
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// Queryable is a stage06 DB as remote read needs it (*tsdb.DB is one).
type Queryable interface {
	Querier(mint, maxt int64) (tsdb.Querier, error)
}

// TSDBStorage is a ReadStorage over a stage06 DB: float chunks go as
// stored to a reader of stage03 chunks where they hold exactly the
// series' samples (tsdb.ChunkSeries); everything else is read sample by
// sample, histograms included.
type TSDBStorage struct{ DB Queryable }

var _ ReadStorage = TSDBStorage{}

// IndexMatchers builds stage05 matchers from remote read's; the two
// enumerations are the same (=, !=, =~, !~). A bad regular expression is
// an error wrapping ErrInvalid.
func IndexMatchers(ms []Matcher) ([]*index.Matcher, error) {
	out := make([]*index.Matcher, len(ms))
	for i, m := range ms {
		x, err := index.NewMatcher(index.MatchType(m.Type), m.Name, m.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: matcher %s%s%q: %v", ErrInvalid, m.Name, m.Type, m.Value, err)
		}
		out[i] = x
	}
	return out, nil
}

// RemoteMatchers converts stage05 matchers to remote read's.
func RemoteMatchers(ms []*index.Matcher) []Matcher {
	out := make([]Matcher, len(ms))
	for i, m := range ms {
		out[i] = Matcher{Type: MatchType(m.Type()), Name: m.Name(), Value: m.Value()}
	}
	return out
}

func (s TSDBStorage) selectSeries(q ReadQuery) (tsdb.Querier, tsdb.SeriesSet, error) {
	ms, err := IndexMatchers(q.Matchers)
	if err != nil {
		return nil, nil, err
	}
	qr, err := s.DB.Querier(q.MinT, q.MaxT)
	if err != nil {
		return nil, nil, fmt.Errorf("remote read: querier: %w", err)
	}
	return qr, qr.Select(ms...), nil
}

// HasHistograms implements ReadStorage from the chunks' encodings, without
// decoding them.
func (s TSDBStorage) HasHistograms(_ context.Context, q ReadQuery) (bool, error) {
	qr, ss, err := s.selectSeries(q)
	if err != nil {
		return false, err
	}
	defer qr.Close()
	for ss.Next() {
		if h, ok := ss.At().(interface{ HasHistograms() bool }); ok && h.HasHistograms() {
			return true, nil
		}
	}
	return false, ss.Err()
}

// ReadSeries implements ReadStorage. Series with only deleted samples in
// the range are left out.
func (s TSDBStorage) ReadSeries(ctx context.Context, q ReadQuery, fn func(*ReadSeries) error) error {
	qr, ss, err := s.selectSeries(q)
	if err != nil {
		return err
	}
	defer qr.Close()
	var (
		it  tsdb.Iterator
		raw []tsdb.RawChunk
		rs  ReadSeries
	)
	for ss.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		sr := ss.At()
		rs = ReadSeries{Series: Series{Labels: sr.Labels(), Samples: rs.Samples[:0], Histograms: rs.Histograms[:0]}, Chunks: rs.Chunks[:0]}
		if c, ok := sr.(tsdb.ChunkSeries); ok && q.StoredChunks {
			var whole bool
			raw, whole, err = c.AppendChunks(raw[:0])
			if err != nil {
				return fmt.Errorf("remote read: %s: %w", sr.Labels(), err)
			}
			if whole && len(raw) > 0 {
				for _, r := range raw {
					rs.Chunks = append(rs.Chunks, Chunk{MinT: r.MinT, MaxT: r.MaxT, Type: ChunkStage03, Data: r.Data})
				}
				if err := fn(&rs); err != nil {
					return err
				}
				continue
			}
		}
		rs.Chunks = nil
		it = sr.Iterator(it)
		if rs.Samples, rs.Histograms, err = AppendIterated(rs.Samples, rs.Histograms, it); err != nil {
			return fmt.Errorf("remote read: %s: %w", sr.Labels(), err)
		}
		if len(rs.Samples)+len(rs.Histograms) == 0 {
			continue
		}
		if err := fn(&rs); err != nil {
			return err
		}
	}
	if err := ss.Err(); err != nil {
		return fmt.Errorf("remote read: select: %w", err)
	}
	return nil
}

// AppendIterated appends the samples of a stage06 iterator: floats to
// samples, native histograms (allocated, the caller's) to hs.
func AppendIterated(samples []model.Sample, hs []HistogramSample, it tsdb.Iterator) ([]model.Sample, []HistogramSample, error) {
	hi, _ := it.(tsdb.HistogramIterator)
	for it.Next() {
		typ := tsdb.ValFloat
		if hi != nil {
			typ = hi.Type()
		}
		switch typ {
		case tsdb.ValHistogram:
			t, h := hi.AtHistogram(nil)
			hs = append(hs, HistogramSample{T: t, H: h})
		case tsdb.ValFloatHistogram:
			t, h := hi.AtFloatHistogram(nil)
			hs = append(hs, HistogramSample{T: t, FH: h})
		default:
			t, v := it.At()
			samples = append(samples, model.Sample{T: t, V: v})
		}
	}
	return samples, hs, it.Err()
}
