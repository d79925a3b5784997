package tsdb

import (
	"errors"
	"math"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// ValueType is the kind of a sample, as Prometheus's chunkenc.ValueType.
type ValueType uint8

const (
	ValNone           ValueType = iota // no sample (before Next, after the end)
	ValFloat                           // At
	ValHistogram                       // AtHistogram (or AtFloatHistogram, converted)
	ValFloatHistogram                  // AtFloatHistogram
)

func (v ValueType) String() string {
	switch v {
	case ValFloat:
		return "float"
	case ValHistogram:
		return "histogram"
	case ValFloatHistogram:
		return "floathistogram"
	}
	return "none"
}

// HistogramIterator is an Iterator that says what kind each sample is.
// Every Iterator a Querier returns implements it: a series of floats only
// gets the float iterators, whose Type is always ValFloat, so reading
// floats costs what it did; a series with histogram chunks gets one that
// decodes them.
//
// At on a histogram sample returns its timestamp and 0: a reader that may
// meet histograms asks Type first.
type HistogramIterator interface {
	Iterator
	// Type is the kind of the sample Next or SeekTo moved to.
	Type() ValueType
	// AtHistogram returns an integer histogram sample (nil for another
	// kind), written into dst when not nil. The histogram is the caller's.
	AtHistogram(dst *histogram.Histogram) (int64, *histogram.Histogram)
	// AtFloatHistogram returns a histogram sample in float form, either
	// kind (nil for a float), written into dst when not nil.
	AtFloatHistogram(dst *histogram.FloatHistogram) (int64, *histogram.FloatHistogram)
}

// hsample is a sample of any kind: a float (h and fh nil), an integer
// histogram (h) or a float histogram (fh). The float paths never build
// them; series with histograms, out-of-order or not, go through them.
type hsample struct {
	t  int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

func (s *hsample) typ() ValueType {
	switch {
	case s.h != nil:
		return ValHistogram
	case s.fh != nil:
		return ValFloatHistogram
	}
	return ValFloat
}

func (s *hsample) enc() chunks.Encoding {
	switch {
	case s.h != nil:
		return chunks.EncHistogram
	case s.fh != nil:
		return chunks.EncFloatHistogram
	}
	return chunks.EncFloat
}

// sameSample reports whether a and b are the same sample value (the
// duplicate rule: the newest sample again with the same value is accepted
// once). Floats compare by bits. Histograms compare as Prometheus's Equals
// does, by what they count: the same schema, zero bucket, count and sum
// (floats by bits), and the same count in every bucket, a bucket a
// layout lists with 0 being the same as one it leaves out (a chunk
// recoded to a wider layout gives its earlier histograms such empty
// buckets). The counter-reset hint is not compared.
func sameSample(a, b *hsample) bool {
	if a.typ() != b.typ() {
		return false
	}
	switch a.typ() {
	case ValHistogram:
		x, y := a.h, b.h
		return x.Schema == y.Schema && fbits(x.ZeroThreshold) == fbits(y.ZeroThreshold) && x.ZeroCount == y.ZeroCount &&
			x.Count == y.Count && fbits(x.Sum) == fbits(y.Sum) && floatsSame(x.CustomValues, y.CustomValues) &&
			slices.Equal(intBuckets(x.PositiveSpans, x.PositiveBuckets), intBuckets(y.PositiveSpans, y.PositiveBuckets)) &&
			slices.Equal(intBuckets(x.NegativeSpans, x.NegativeBuckets), intBuckets(y.NegativeSpans, y.NegativeBuckets))
	case ValFloatHistogram:
		x, y := a.fh, b.fh
		return x.Schema == y.Schema && fbits(x.ZeroThreshold) == fbits(y.ZeroThreshold) && fbits(x.ZeroCount) == fbits(y.ZeroCount) &&
			fbits(x.Count) == fbits(y.Count) && fbits(x.Sum) == fbits(y.Sum) && floatsSame(x.CustomValues, y.CustomValues) &&
			slices.Equal(floatBuckets(x.PositiveSpans, x.PositiveBuckets), floatBuckets(y.PositiveSpans, y.PositiveBuckets)) &&
			slices.Equal(floatBuckets(x.NegativeSpans, x.NegativeBuckets), floatBuckets(y.NegativeSpans, y.NegativeBuckets))
	}
	return fbits(a.v) == fbits(b.v)
}

// bucketCount is a populated bucket: its index and its count (an integer
// count, or a float's bits).
type bucketCount struct {
	idx int32
	c   uint64
}

// intBuckets lists the buckets with a count other than 0 of a side of an
// integer histogram (deltas summed). Each span starts Offset indexes after
// the end of the previous one (the first: after index 0).
func intBuckets(spans []histogram.Span, deltas []int64) []bucketCount {
	var out []bucketCount
	var next int32 // index after the previous span
	var c int64
	k := 0
	for _, sp := range spans {
		start := next + sp.Offset
		for j := range int32(sp.Length) {
			if k < len(deltas) {
				c += deltas[k]
			}
			k++
			if c != 0 {
				out = append(out, bucketCount{start + j, uint64(c)})
			}
		}
		next = start + int32(sp.Length)
	}
	return out
}

// floatBuckets is intBuckets for a float histogram's absolute counts.
func floatBuckets(spans []histogram.Span, counts []float64) []bucketCount {
	var out []bucketCount
	var next int32
	k := 0
	for _, sp := range spans {
		start := next + sp.Offset
		for j := range int32(sp.Length) {
			if k < len(counts) && counts[k] != 0 {
				out = append(out, bucketCount{start + j, fbits(counts[k])})
			}
			k++
		}
		next = start + int32(sp.Length)
	}
	return out
}

func fbits(f float64) uint64 { return math.Float64bits(f) }

func floatsSame(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return fbits(x) == fbits(y) })
}

// decodeAny appends the samples of a stored chunk of any encoding to dst,
// histograms carved from a (a new arena when nil); a float chunk is decoded
// in a's scratch columns.
func decodeAny(b []byte, dst []hsample, a *histArena) ([]hsample, error) {
	if chunks.EncodingOf(b) != chunks.EncFloat {
		return decodeHist(b, dst, a)
	}
	if a == nil {
		a = &histArena{}
	}
	ts, vs, err := decodeFloatAll(b, a.ts[:0], a.vs[:0], &a.cold)
	a.ts, a.vs = ts, vs
	for i, t := range ts {
		dst = append(dst, hsample{t: t, v: vs[i]})
	}
	return dst, err
}

// hasHist reports whether any of srcs is a histogram chunk (known from the
// ref, without reading it).
func hasHist(srcs []chunkSrc) bool {
	for i := range srcs {
		if srcs[i].ref.Encoding() != chunks.EncFloat {
			return true
		}
	}
	return false
}

// mergeMixed decodes the chunks of a series with histograms into one
// sorted run in [mint, maxt], without deleted samples or samples hidden by
// isolation; of equal timestamps the first in srcs order wins, in-order
// before out-of-order (as mergeSamples).
func mergeMixed(srcs []chunkSrc, mint, maxt int64) ([]hsample, error) {
	if inOrder(srcs) {
		return appendInOrder(srcs, mint, maxt)
	}
	type prioSample struct {
		hsample
		prio int
	}
	var all []prioSample
	var firstErr error
	var arena histArena
	var buf []hsample
	for i := range srcs {
		c := &srcs[i]
		b, err := c.queryBytes()
		if err == nil {
			buf, err = decodeAny(b, buf[:0], &arena)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		prio := i
		if c.ooo() {
			prio += len(srcs)
		}
		hi, stones := min(maxt, c.capT()), c.stones()
		for _, s := range buf {
			if s.t < mint || s.t > hi || (len(stones) > 0 && stones.Contains(s.t)) {
				continue
			}
			all = append(all, prioSample{s, prio})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].t != all[j].t {
			return all[i].t < all[j].t
		}
		return all[i].prio < all[j].prio
	})
	out := make([]hsample, 0, len(all))
	for i := range all {
		if i > 0 && all[i].t == all[i-1].t {
			continue
		}
		out = append(out, all[i].hsample)
	}
	return out, firstErr
}

// inOrder reports whether the chunks of srcs follow each other in time
// without overlapping (each one's first sample after the previous one's
// last), as they do unless out-of-order samples were written: their
// samples then need no sort, nor a rule for equal timestamps.
func inOrder(srcs []chunkSrc) bool {
	for i := range srcs {
		if srcs[i].minT > srcs[i].maxT || i > 0 && srcs[i].minT <= srcs[i-1].maxT {
			return false
		}
	}
	return true
}

// appendInOrder is mergeMixed for chunks that are in order: each one's
// samples are decoded straight into the result, filtered.
func appendInOrder(srcs []chunkSrc, mint, maxt int64) ([]hsample, error) {
	bs := make([][]byte, len(srcs))
	errs := make([]error, len(srcs))
	n := 0
	for i := range srcs {
		bs[i], errs[i] = srcs[i].queryBytes()
		if errs[i] == nil {
			n += numSamples(bs[i])
		}
	}
	out := make([]hsample, 0, n)
	var firstErr error
	var arena histArena
	for i := range srcs {
		c := &srcs[i]
		from, err := len(out), errs[i]
		if err == nil {
			out, err = decodeAny(bs[i], out, &arena)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		hi, stones := min(maxt, c.capT()), c.stones()
		kept := out[:from]
		for _, s := range out[from:] {
			if s.t < mint || s.t > hi || (len(stones) > 0 && stones.Contains(s.t)) {
				continue
			}
			kept = append(kept, s)
		}
		clear(out[len(kept):])
		out = kept
	}
	return out, firstErr
}

// numSamples is the number of samples of the stored chunk b, any
// encoding (0 if it cannot tell).
func numSamples(b []byte) int {
	if chunks.EncodingOf(b) != chunks.EncFloat {
		return numHist(b)
	}
	return numFloatSamples(b)
}

// mixedIterator iterates decoded samples of any kind.
type mixedIterator struct {
	ss    []hsample
	i     int
	err   error
	arena histArena // the histograms handed out without a dst
}

func newMixedIterator(srcs []chunkSrc, mint, maxt int64, count *atomic.Int64) HistogramIterator {
	if inOrder(srcs) {
		return newChunkIterator(srcs, mint, maxt, count)
	}
	ss, err := mergeMixed(srcs, mint, maxt)
	if count != nil {
		count.Add(int64(len(ss)))
	}
	return &mixedIterator{ss: ss, i: -1, err: err}
}

func (m *mixedIterator) Next() bool {
	if m.i+1 >= len(m.ss) {
		m.i = len(m.ss)
		return false
	}
	m.i++
	return true
}

func (m *mixedIterator) SeekTo(t int64) bool {
	if m.i < 0 {
		m.i = 0
	}
	if m.i < len(m.ss) && m.ss[m.i].t >= t {
		return true
	}
	m.i += sort.Search(len(m.ss)-m.i, func(k int) bool { return m.ss[m.i+k].t >= t })
	return m.i < len(m.ss)
}

func (m *mixedIterator) At() (int64, float64) { return m.ss[m.i].t, m.ss[m.i].v }
func (m *mixedIterator) Err() error           { return m.err }

func (m *mixedIterator) Type() ValueType {
	if m.i < 0 || m.i >= len(m.ss) {
		return ValNone
	}
	return m.ss[m.i].typ()
}

func (m *mixedIterator) AtHistogram(dst *histogram.Histogram) (int64, *histogram.Histogram) {
	s := &m.ss[m.i]
	switch {
	case s.h == nil:
		return s.t, nil
	case dst == nil:
		return s.t, m.arena.copyHistogram(s.h)
	}
	return s.t, copyHistogram(dst, s.h)
}

func (m *mixedIterator) AtFloatHistogram(dst *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	s := &m.ss[m.i]
	switch {
	case s.fh != nil && dst == nil:
		return s.t, m.arena.copyFloatHistogram(s.fh)
	case s.fh != nil:
		return s.t, copyFloatHistogram(dst, s.fh)
	case s.h != nil && dst == nil:
		return s.t, m.arena.toFloat(s.h)
	case s.h != nil:
		return s.t, copyFloatHistogram(dst, s.h.ToFloat())
	}
	return s.t, nil
}

// copyHistogram copies h into dst (allocated when nil), reusing its slices.
func copyHistogram(dst, h *histogram.Histogram) *histogram.Histogram {
	if dst == nil {
		return h.Copy()
	}
	*dst = histogram.Histogram{
		CounterResetHint: h.CounterResetHint, Schema: h.Schema, ZeroThreshold: h.ZeroThreshold,
		ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum,
		PositiveSpans:   append(dst.PositiveSpans[:0], h.PositiveSpans...),
		NegativeSpans:   append(dst.NegativeSpans[:0], h.NegativeSpans...),
		PositiveBuckets: append(dst.PositiveBuckets[:0], h.PositiveBuckets...),
		NegativeBuckets: append(dst.NegativeBuckets[:0], h.NegativeBuckets...),
		CustomValues:    append(dst.CustomValues[:0], h.CustomValues...),
	}
	return dst
}

func copyFloatHistogram(dst, h *histogram.FloatHistogram) *histogram.FloatHistogram {
	if dst == nil {
		return h.Copy()
	}
	*dst = histogram.FloatHistogram{
		CounterResetHint: h.CounterResetHint, Schema: h.Schema, ZeroThreshold: h.ZeroThreshold,
		ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum,
		PositiveSpans:   append(dst.PositiveSpans[:0], h.PositiveSpans...),
		NegativeSpans:   append(dst.NegativeSpans[:0], h.NegativeSpans...),
		PositiveBuckets: append(dst.PositiveBuckets[:0], h.PositiveBuckets...),
		NegativeBuckets: append(dst.NegativeBuckets[:0], h.NegativeBuckets...),
		CustomValues:    append(dst.CustomValues[:0], h.CustomValues...),
	}
	return dst
}

// encodeMixed encodes sorted samples of any kinds into chunks, cutting one
// where the kind changes, at SamplesPerChunk samples, and where a histogram
// does not fit the chunk (a counter reset, another schema: the histogram
// chunk's appender says so). A histogram starting a chunk after a counter
// reset gets the CounterReset hint if it has none, as Prometheus sets it.
func encodeMixed(ss []hsample) ([]block.ChunkData, error) {
	var out []block.ChunkData
	for len(ss) > 0 {
		kind := ss[0].enc()
		n := 1
		for n < len(ss) && n < SamplesPerChunk && ss[n].enc() == kind {
			n++
		}
		if kind == chunks.EncFloat {
			ts, vs := make([]int64, n), make([]float64, n)
			for i, s := range ss[:n] {
				ts[i], vs[i] = s.t, s.v
			}
			c, err := encodeBest(ts, vs)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
			ss = ss[n:]
			continue
		}
		w := newHistWriter(kind)
		k := 0
		reset := false
		for k < n {
			if err := w.append(ss[k]); err != nil {
				if k == 0 {
					return nil, err // an empty chunk takes any valid histogram
				}
				reset = errors.Is(err, errCounterReset)
				break
			}
			k++
		}
		out = append(out, block.ChunkData{MinT: ss[0].t, MaxT: ss[k-1].t, Data: w.bytes(), Samples: k})
		ss = ss[k:]
		if reset {
			ss[0] = withResetHint(ss[0]) // a decoded copy, or the head's own
		}
	}
	return out, nil
}

// encodeMem is encodeMixed for chunks kept in memory (out-of-order ones).
func encodeMem(ss []hsample) []memChunk {
	cs, err := encodeMixed(ss)
	if err != nil {
		return nil
	}
	out := make([]memChunk, len(cs))
	for i, c := range cs {
		out[i] = memChunk{minT: c.MinT, maxT: c.MaxT, data: c.Data}
	}
	return out
}
