package tsdb

import (
	"errors"
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// errNotAppendable: a histogram that does not fit the open chunk (another
// schema or zero threshold, a gauge after counters): the caller cuts the
// chunk and starts a new one with it, as Prometheus does. New buckets are
// no reason: stage03's appender recodes the chunk to the wider layout.
var errNotAppendable = errors.New("tsdb: histogram does not fit the chunk")

// errCounterReset: it does not fit because a count went down (or the
// histogram says it follows a reset); the new chunk starts with the
// CounterReset hint.
var errCounterReset = fmt.Errorf("%w: counter reset", errNotAppendable)

// histWriter builds one stage03 histogram chunk, of integer or float
// histograms (enc). bytes() is the stored form: the encoding's marker byte
// (chunks.Encoding), then the chunk.
type histWriter struct {
	enc   chunks.Encoding
	count int
	hc    *gorilla.HistogramChunk
	ha    *gorilla.HistogramAppender
	fc    *gorilla.FloatHistogramChunk
	fa    *gorilla.FloatHistogramAppender
}

func newHistWriter(enc chunks.Encoding) *histWriter {
	w := &histWriter{enc: enc}
	// The appender of a new, empty chunk: nothing to decode, cannot fail.
	if enc == chunks.EncHistogram {
		w.hc = gorilla.NewHistogramChunk()
		w.ha, _ = w.hc.Appender()
	} else {
		w.fc = gorilla.NewFloatHistogramChunk()
		w.fa, _ = w.fc.Appender()
	}
	return w
}

func (w *histWriter) n() int { return w.count }

// append adds s (of the writer's kind), or says why it does not fit.
func (w *histWriter) append(s hsample) error {
	var err error
	if w.enc == chunks.EncHistogram {
		err = w.ha.Append(s.t, s.h)
	} else {
		err = w.fa.Append(s.t, s.fh)
	}
	switch {
	case err == nil:
		w.count++
		return nil
	case errors.Is(err, gorilla.ErrCounterReset):
		return errCounterReset
	case errors.Is(err, gorilla.ErrNotAppendable):
		return errNotAppendable
	}
	return fmt.Errorf("tsdb: %w", err)
}

// bytes returns a copy of the stored form: the chunk keeps changing (a
// recode rewrites it), the copy is the caller's.
func (w *histWriter) bytes() []byte {
	var c []byte
	if w.enc == chunks.EncHistogram {
		c = w.hc.Bytes()
	} else {
		c = w.fc.Bytes()
	}
	b := make([]byte, 1+len(c))
	b[0] = w.enc.Marker()
	copy(b[1:], c)
	return b
}

// decodeHist appends the samples of the stored histogram chunk b to dst,
// each histogram carved from a (a new arena when nil): decoded into one
// scratch histogram, then copied at its size.
func decodeHist(b []byte, dst []hsample, a *histArena) ([]hsample, error) {
	if a == nil {
		a = &histArena{}
	}
	switch chunks.EncodingOf(b) {
	case chunks.EncHistogram:
		it := gorilla.NewHistogramIterator(b[1:])
		var scratch histogram.Histogram
		for it.Next() {
			t, h := it.AtHistogram(&scratch)
			dst = append(dst, hsample{t: t, h: a.copyHistogram(h)})
		}
		if err := it.Err(); err != nil {
			return dst, fmt.Errorf("tsdb: histogram chunk: %w", err)
		}
	case chunks.EncFloatHistogram:
		it := gorilla.NewFloatHistogramIterator(b[1:])
		var scratch histogram.FloatHistogram
		for it.Next() {
			t, fh := it.AtFloatHistogram(&scratch)
			dst = append(dst, hsample{t: t, fh: a.copyFloatHistogram(fh)})
		}
		if err := it.Err(); err != nil {
			return dst, fmt.Errorf("tsdb: float histogram chunk: %w", err)
		}
	default:
		return dst, fmt.Errorf("tsdb: chunk of encoding %s is not a histogram chunk", chunks.EncodingOf(b))
	}
	return dst, nil
}

// numHist is the number of samples of the stored histogram chunk b.
func numHist(b []byte) int {
	if len(b) < 1 {
		return 0
	}
	if chunks.EncodingOf(b) == chunks.EncHistogram {
		if c, err := gorilla.HistogramChunkFromBytes(b[1:]); err == nil {
			return c.NumSamples()
		}
		return 0
	}
	if c, err := gorilla.FloatHistogramChunkFromBytes(b[1:]); err == nil {
		return c.NumSamples()
	}
	return 0
}
