package tsdb

import "github.com/tsdb-course/stage06-blocks/chunks"

// RawChunk is one chunk of a series as the DB stores it: its time range
// (ms, inclusive) and its bytes, a stage03 Gorilla chunk
// (gorilla.FromBytes reads it).
type RawChunk struct {
	MinT, MaxT int64
	Data       []byte
}

// ChunkSeries is a Series that can hand out its chunks as stored, for a
// reader that ships them elsewhere without decoding them (a remote read
// answering with chunks). The DB's series are ChunkSeries.
type ChunkSeries interface {
	Series
	// AppendChunks appends the series' chunks, in time order, to dst
	// and reports true when their samples are exactly the series'
	// samples in the querier's range once clipped to it: no two chunks
	// overlap (out-of-order data, overlapping blocks), and no deletion or
	// isolation hides a sample inside a chunk, and every chunk is a float
	// Gorilla chunk (not a histogram chunk, nor a cold chunk of a
	// compacted block). Otherwise it appends
	// nothing and reports false: the caller reads the samples with
	// Iterator. The chunks may hold samples outside the querier's range
	// (a chunk is whole), and their Data is valid until the querier is
	// closed.
	AppendChunks(dst []RawChunk) ([]RawChunk, bool, error)
}

// AppendChunks implements ChunkSeries.
func (s *series) AppendChunks(dst []RawChunk) ([]RawChunk, bool, error) {
	srcs := s.e.chunks
	if hasOverlap(srcs) {
		return dst, false, nil
	}
	for i := range srcs {
		c := &srcs[i]
		// A histogram chunk is not what a reader of stage03 chunks
		// expects: it reads the series' samples instead.
		if c.maxT > c.capT() || c.stones().Overlaps(c.minT, c.maxT) || c.ref.Encoding() != chunks.EncFloat {
			return dst, false, nil
		}
	}
	n := len(dst)
	for i := range srcs {
		b, err := srcs[i].queryBytes()
		if err != nil {
			return dst[:n], false, err
		}
		if chunks.IsCold(b) {
			// A cold chunk (a compacted block's) is not a stage03
			// chunk either.
			return dst[:n], false, nil
		}
		dst = append(dst, RawChunk{MinT: srcs[i].minT, MaxT: srcs[i].maxT, Data: b})
	}
	return dst, true, nil
}
