package remote

import (
	"errors"
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// Chunks of this workspace's own encodings in a streamed answer. A series
// whose samples change kind over time gets a chunk per run of one kind,
// in time order.
const (
	// ChunkStage03Histogram is a stage03 histogram chunk of integer
	// native histograms (gorilla.HistogramChunk).
	ChunkStage03Histogram ChunkEncoding = 0x54
	// ChunkStage03FloatHistogram is a stage03 histogram chunk of float
	// native histograms (gorilla.FloatHistogramChunk).
	ChunkStage03FloatHistogram ChunkEncoding = 0x55
)

// ErrBadChunk: a streamed answer's chunk that cannot be read.
var ErrBadChunk = errors.New("remote: bad chunk in a streamed read")

// Stage03Chunks encodes a series' samples, floats and histograms each in
// time order, as stage03 chunks in time order: float runs as Gorilla
// chunks of at most XORChunkSamples samples, histogram runs as histogram
// chunks cut where stage03's appender says a sample does not fit (a
// counter reset, a new schema), which is where stage06 cuts them too.
func Stage03Chunks(dst []Chunk, samples []model.Sample, hs []HistogramSample) ([]Chunk, error) {
	i, j := 0, 0
	for i < len(samples) || j < len(hs) {
		if j == len(hs) || (i < len(samples) && samples[i].T < hs[j].T) {
			k := i
			for k < len(samples) && k-i < XORChunkSamples && (j == len(hs) || samples[k].T < hs[j].T) {
				k++
			}
			c, err := floatChunk(samples[i:k])
			if err != nil {
				return dst, err
			}
			dst = append(dst, c)
			i = k
			continue
		}
		// The first histogram is taken even when a float shares its
		// timestamp, else neither branch would move on.
		k := j + 1
		for k < len(hs) && (i == len(samples) || hs[k].T < samples[i].T) && (hs[k].H != nil) == (hs[j].H != nil) {
			k++
		}
		var err error
		if hs[j].H != nil {
			dst, err = intHistChunks(dst, hs[j:k])
		} else {
			dst, err = floatHistChunks(dst, hs[j:k])
		}
		if err != nil {
			return dst, err
		}
		j = k
	}
	return dst, nil
}

func floatChunk(pts []model.Sample) (Chunk, error) {
	ts := make([]int64, len(pts))
	vs := make([]float64, len(pts))
	for i, p := range pts {
		ts[i], vs[i] = p.T, p.V
	}
	c, err := gorilla.Encode(ts, vs, gorilla.XOR)
	if err != nil {
		return Chunk{}, fmt.Errorf("remote: encode chunk: %w", err)
	}
	return Chunk{MinT: ts[0], MaxT: ts[len(ts)-1], Type: ChunkStage03, Data: c.Bytes()}, nil
}

// hintFor is the hint a histogram starting a new chunk gets, as stage06
// gives it: the one the appender's refusal implies, unless it has its own.
func hintFor(own histogram.CounterResetHint, err error) histogram.CounterResetHint {
	if own != histogram.UnknownCounterReset {
		return own
	}
	if errors.Is(err, gorilla.ErrCounterReset) {
		return histogram.CounterReset
	}
	return histogram.UnknownCounterReset
}

func intHistChunks(dst []Chunk, hs []HistogramSample) ([]Chunk, error) {
	return histChunks[histogram.Histogram, *gorilla.HistogramAppender](dst, hs, ChunkStage03Histogram,
		gorilla.NewHistogramChunk,
		func(s HistogramSample) *histogram.Histogram { return s.H },
		func(h *histogram.Histogram, err error) *histogram.Histogram {
			c := *h
			c.CounterResetHint = hintFor(c.CounterResetHint, err)
			return &c
		})
}

func floatHistChunks(dst []Chunk, hs []HistogramSample) ([]Chunk, error) {
	return histChunks[histogram.FloatHistogram, *gorilla.FloatHistogramAppender](dst, hs, ChunkStage03FloatHistogram,
		gorilla.NewFloatHistogramChunk,
		func(s HistogramSample) *histogram.FloatHistogram { return s.FH },
		func(h *histogram.FloatHistogram, err error) *histogram.FloatHistogram {
			c := *h
			c.CounterResetHint = hintFor(c.CounterResetHint, err)
			return &c
		})
}

// histChunk is what histChunks needs of stage03's two histogram chunk
// types; A is the chunk's appender.
type histChunk[A any] interface {
	NumSamples() int
	Bytes() []byte
	Appender() (A, error)
}

// histChunks cuts one kind of histogram samples into stage03 chunks of
// encoding typ, a new chunk wherever the appender refuses one (a layout
// change, a counter reset, a full chunk); the new chunk's first histogram
// carries the reason as its counter-reset hint (hinted copies it).
func histChunks[H any, A interface{ Append(int64, *H) error }, C histChunk[A]](dst []Chunk, hs []HistogramSample, typ ChunkEncoding,
	newChunk func() C, get func(HistogramSample) *H, hinted func(*H, error) *H) ([]Chunk, error) {
	var (
		c      C
		app    A
		open   bool
		lo, hi int64
	)
	flush := func() {
		if open && c.NumSamples() > 0 {
			dst = append(dst, Chunk{MinT: lo, MaxT: hi, Type: typ, Data: c.Bytes()})
		}
	}
	for _, s := range hs {
		h := get(s)
		if open {
			err := app.Append(s.T, h)
			if err == nil {
				hi = s.T
				continue
			}
			if !errors.Is(err, gorilla.ErrNotAppendable) && !errors.Is(err, gorilla.ErrChunkFull) {
				return dst, fmt.Errorf("remote: encode histogram at %d: %w", s.T, err)
			}
			flush()
			h = hinted(h, err)
		}
		c = newChunk()
		var err error
		if app, err = c.Appender(); err != nil {
			return dst, err
		}
		open = true
		if err := app.Append(s.T, h); err != nil {
			return dst, fmt.Errorf("remote: encode histogram at %d: %w", s.T, err)
		}
		lo, hi = s.T, s.T
	}
	flush()
	return dst, nil
}

// AppendChunkSamples decodes a streamed series' stage03 chunks (floats
// and histograms) and appends the samples in [mint, maxt] to s: a chunk
// sent as stored may hold samples outside the range asked. Consecutive
// chunks never overlap, so each kind stays in time order.
func AppendChunkSamples(s *Series, cs []Chunk, mint, maxt int64) error {
	for _, c := range cs {
		switch c.Type {
		case ChunkStage03:
			n := len(s.Samples)
			var err error
			s.Samples, err = gorilla.AppendSamples(c.Data, s.Samples)
			if err != nil {
				s.Samples = s.Samples[:n]
				return fmt.Errorf("%w: %v", ErrBadChunk, err)
			}
			k := n
			for _, p := range s.Samples[n:] {
				if p.T >= mint && p.T <= maxt {
					s.Samples[k] = p
					k++
				}
			}
			s.Samples = s.Samples[:k]
		case ChunkStage03Histogram:
			it := gorilla.NewHistogramIterator(c.Data)
			for it.Next() {
				if t := it.AtT(); t >= mint && t <= maxt {
					t, h := it.AtHistogram(nil)
					s.Histograms = append(s.Histograms, HistogramSample{T: t, H: h})
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("%w: %v", ErrBadChunk, err)
			}
		case ChunkStage03FloatHistogram:
			it := gorilla.NewFloatHistogramIterator(c.Data)
			for it.Next() {
				if t := it.AtT(); t >= mint && t <= maxt {
					t, h := it.AtFloatHistogram(nil)
					s.Histograms = append(s.Histograms, HistogramSample{T: t, FH: h})
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("%w: %v", ErrBadChunk, err)
			}
		default:
			return fmt.Errorf("%w: encoding %d", ErrBadChunk, c.Type)
		}
	}
	return nil
}
