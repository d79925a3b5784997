package tsdb

import (
	"fmt"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// chunkIterator reads a series with histograms whose chunks are in order
// (inOrder) one chunk at a time, as Prometheus's chunk iterators do: no
// merge, no decoded copy of the series. A histogram is built only when
// asked for, in the form asked for: a reader that wants float histograms
// (the PromQL engine) gets them straight from an integer chunk, without an
// integer histogram in between. The histograms it hands out without a
// dst are carved from its arena, each the caller's.
type chunkIterator struct {
	srcs       []chunkSrc
	mint, maxt int64
	count      *atomic.Int64
	counted    int64 // samples yielded, not yet added to count

	k      int // current chunk in srcs, -1 before the first
	enc    chunks.Encoding
	hi     int64 // last visible time in the current chunk
	stones block.Intervals
	open   bool // a chunk is being read

	ts  []int64            // a float chunk, decoded whole
	vs  []float64          //
	fi  int                // index in ts
	sc  chunks.ColdScratch // a cold one's decoder buffers
	hit *gorilla.HistogramIterator
	fit *gorilla.FloatHistogramIterator

	t    int64
	has  bool // on a sample (Next or SeekTo said true)
	done bool
	err  error

	arena histArena
	sh    histogram.Histogram
	sf    histogram.FloatHistogram
}

func newChunkIterator(srcs []chunkSrc, mint, maxt int64, count *atomic.Int64) *chunkIterator {
	return &chunkIterator{srcs: srcs, mint: mint, maxt: maxt, count: count, k: -1}
}

// nextChunk opens the next chunk that can hold visible samples.
func (c *chunkIterator) nextChunk() bool {
	c.open = false
	for c.k+1 < len(c.srcs) {
		c.k++
		src := &c.srcs[c.k]
		if src.maxT < c.mint || src.minT > c.maxt {
			continue
		}
		b, err := src.queryBytes()
		if err != nil {
			c.fail(err)
			continue
		}
		c.enc, c.hi, c.stones = chunks.EncodingOf(b), min(c.maxt, src.capT()), src.stones()
		switch c.enc {
		case chunks.EncHistogram:
			if c.hit == nil {
				c.hit = gorilla.NewHistogramIterator(b[1:])
			} else {
				c.hit.Reset(b[1:])
			}
		case chunks.EncFloatHistogram:
			if c.fit == nil {
				c.fit = gorilla.NewFloatHistogramIterator(b[1:])
			} else {
				c.fit.Reset(b[1:])
			}
		default:
			c.ts, c.vs, err = decodeFloatAll(b, c.ts[:0], c.vs[:0], &c.sc)
			c.fi = -1
			if err != nil {
				c.fail(err)
			}
		}
		c.open = true
		return true
	}
	return false
}

func (c *chunkIterator) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// step moves to the next sample of the open chunk, any time.
func (c *chunkIterator) step() bool {
	switch c.enc {
	case chunks.EncHistogram:
		if !c.hit.Next() {
			if err := c.hit.Err(); err != nil {
				c.fail(decodeErr("histogram chunk", err))
			}
			return false
		}
		c.t = c.hit.AtT()
	case chunks.EncFloatHistogram:
		if !c.fit.Next() {
			if err := c.fit.Err(); err != nil {
				c.fail(decodeErr("float histogram chunk", err))
			}
			return false
		}
		c.t = c.fit.AtT()
	default:
		if c.fi+1 >= len(c.ts) {
			return false
		}
		c.fi++
		c.t = c.ts[c.fi]
	}
	return true
}

func (c *chunkIterator) Next() bool {
	for !c.done {
		if !c.open && !c.nextChunk() {
			c.finish()
			return false
		}
		if !c.step() || c.t > c.hi {
			c.open = false // the rest of this chunk is later still
			continue
		}
		if c.t < c.mint || (len(c.stones) > 0 && c.stones.Contains(c.t)) {
			continue
		}
		c.counted++
		c.has = true
		return true
	}
	return false
}

func decodeErr(what string, err error) error { return fmt.Errorf("tsdb: %s: %w", what, err) }

func (c *chunkIterator) finish() {
	c.done, c.has = true, false
	if c.count != nil && c.counted > 0 {
		c.count.Add(c.counted)
	}
	c.counted = 0
}

func (c *chunkIterator) SeekTo(t int64) bool {
	if c.done {
		return false
	}
	if c.has && c.t >= t {
		return true
	}
	// Chunks that end before t are skipped without decoding them.
	if c.open && c.srcs[c.k].maxT < t {
		c.open = false
	}
	if !c.open {
		for c.k+1 < len(c.srcs) && c.srcs[c.k+1].maxT < t {
			c.k++
		}
	}
	for c.Next() {
		if c.t >= t {
			return true
		}
	}
	return false
}

func (c *chunkIterator) At() (int64, float64) {
	if c.enc == chunks.EncFloat && c.fi >= 0 && c.fi < len(c.vs) {
		return c.t, c.vs[c.fi]
	}
	return c.t, 0
}

func (c *chunkIterator) Err() error { return c.err }

func (c *chunkIterator) Type() ValueType {
	if !c.has {
		return ValNone
	}
	switch c.enc {
	case chunks.EncHistogram:
		return ValHistogram
	case chunks.EncFloatHistogram:
		return ValFloatHistogram
	}
	return ValFloat
}

func (c *chunkIterator) AtHistogram(dst *histogram.Histogram) (int64, *histogram.Histogram) {
	if c.Type() != ValHistogram {
		return c.t, nil
	}
	if dst != nil {
		return c.hit.AtHistogram(dst)
	}
	_, h := c.hit.AtHistogram(&c.sh)
	return c.t, c.arena.copyHistogram(h)
}

func (c *chunkIterator) AtFloatHistogram(dst *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	var at func(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram)
	switch c.Type() {
	case ValHistogram:
		at = c.hit.AtFloatHistogram
	case ValFloatHistogram:
		at = c.fit.AtFloatHistogram
	default:
		return c.t, nil
	}
	if dst != nil {
		return at(dst)
	}
	_, fh := at(&c.sf)
	return c.t, c.arena.copyFloatHistogram(fh)
}
