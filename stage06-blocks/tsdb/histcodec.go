package tsdb

import (
	"errors"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// errNotAppendable: a histogram that does not fit the open chunk (a
// counter reset, a change of schema or zero threshold): the caller cuts
// the chunk and starts a new one with it, as Prometheus does.
var errNotAppendable = errors.New("tsdb: histogram does not fit the chunk")

// errCounterReset: it does not fit because a count went down (or the
// histogram says it follows a reset).
var errCounterReset = fmt.Errorf("%w: counter reset", errNotAppendable)

// histWriter builds one histogram chunk (integer or float histograms, by
// enc). bytes() is the stored form: the encoding's marker byte
// (chunks.Encoding) and the chunk.
type histWriter struct {
	enc chunks.Encoding
	ss  []hsample
}

func newHistWriter(enc chunks.Encoding) *histWriter { return &histWriter{enc: enc} }

func (w *histWriter) n() int { return len(w.ss) }

// append adds s (of the writer's kind), or returns errNotAppendable.
func (w *histWriter) append(s hsample) error {
	if len(w.ss) > 0 {
		p := &w.ss[len(w.ss)-1]
		var layout, reset bool
		if w.enc == chunks.EncHistogram {
			layout = p.h.Schema != s.h.Schema || math.Float64bits(p.h.ZeroThreshold) != math.Float64bits(s.h.ZeroThreshold) ||
				(p.h.CounterResetHint == histogram.GaugeType) != (s.h.CounterResetHint == histogram.GaugeType)
			reset = s.h.CounterResetHint == histogram.CounterReset ||
				s.h.CounterResetHint != histogram.GaugeType && (s.h.Count < p.h.Count || s.h.ZeroCount < p.h.ZeroCount)
		} else {
			layout = p.fh.Schema != s.fh.Schema || math.Float64bits(p.fh.ZeroThreshold) != math.Float64bits(s.fh.ZeroThreshold) ||
				(p.fh.CounterResetHint == histogram.GaugeType) != (s.fh.CounterResetHint == histogram.GaugeType)
			reset = s.fh.CounterResetHint == histogram.CounterReset ||
				s.fh.CounterResetHint != histogram.GaugeType && (s.fh.Count < p.fh.Count || s.fh.ZeroCount < p.fh.ZeroCount)
		}
		switch {
		case layout:
			return errNotAppendable
		case reset:
			return errCounterReset
		}
	}
	w.ss = append(w.ss, s)
	return nil
}

func (w *histWriter) bytes() []byte {
	b := []byte{w.enc.Marker()}
	if w.enc == chunks.EncHistogram {
		rs := make([]wal.RefHistogram, len(w.ss))
		for i, s := range w.ss {
			rs[i] = wal.RefHistogram{T: s.t, H: s.h}
		}
		return wal.AppendHistograms(b, rs)
	}
	rs := make([]wal.RefFloatHistogram, len(w.ss))
	for i, s := range w.ss {
		rs[i] = wal.RefFloatHistogram{T: s.t, FH: s.fh}
	}
	return wal.AppendFloatHistograms(b, rs)
}

// decodeHist appends the samples of the stored histogram chunk b to dst.
func decodeHist(b []byte, dst []hsample) ([]hsample, error) {
	switch chunks.EncodingOf(b) {
	case chunks.EncHistogram:
		rs, err := wal.DecodeHistograms(b[1:], nil)
		if err != nil {
			return dst, fmt.Errorf("tsdb: histogram chunk: %w", err)
		}
		for _, r := range rs {
			dst = append(dst, hsample{t: r.T, h: r.H})
		}
	case chunks.EncFloatHistogram:
		rs, err := wal.DecodeFloatHistograms(b[1:], nil)
		if err != nil {
			return dst, fmt.Errorf("tsdb: float histogram chunk: %w", err)
		}
		for _, r := range rs {
			dst = append(dst, hsample{t: r.T, fh: r.FH})
		}
	default:
		return dst, fmt.Errorf("tsdb: chunk of encoding %s is not a histogram chunk", chunks.EncodingOf(b))
	}
	return dst, nil
}

// numHist is the number of samples of the stored histogram chunk b.
func numHist(b []byte) int {
	ss, _ := decodeHist(b, nil)
	return len(ss)
}
