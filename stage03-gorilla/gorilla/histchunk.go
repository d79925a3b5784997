package gorilla

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// Errors of the histogram appenders. ErrCounterReset and ErrLayoutChange
// wrap ErrNotAppendable: the sample is fine, but not in this chunk, and
// the caller starts a new chunk for it (giving the new chunk's first
// sample the hint the error implies: CounterReset after ErrCounterReset,
// UnknownCounterReset after ErrLayoutChange, when the sample has no hint of
// its own).
var (
	ErrNotAppendable = errors.New("gorilla: histogram does not fit this chunk")
	// ErrCounterReset: a count went down (or the histogram says it
	// follows a reset), so the counter restarted.
	ErrCounterReset = fmt.Errorf("%w: counter reset", ErrNotAppendable)
	// ErrLayoutChange: the schema, zero threshold or custom bounds changed,
	// a gauge follows a counter or the other way round, or a sample follows
	// a staleness marker.
	ErrLayoutChange = fmt.Errorf("%w: layout change", ErrNotAppendable)
)

// Histogram chunk layout (every field is described bit by bit in the
// README):
//
//	bytes 0-1  header, big-endian uint16: bits 15-14 counter-reset hint of
//	           the first sample, bits 13-0 sample count
//	bytes 2-   t0 as a zig-zag varint
//	then a bit stream: the layout (histlayout.go), then per sample
//	  t        sample 0: nothing more; 1: t-t0 as a dod code (timestamps.go)
//	           against a delta of 0; n: the dod code
//	  sum      XOR with the previous sum (xor.go), sample 0 against 0
//	           (a staleness marker's sample ends here)
//	  zero     sample 0: the count, varbit; 1: the delta; n: the dod
//	  buckets  positive then negative, each like the zero count, on the
//	           stored values (Histogram's bucket deltas)
//	  count    the change in count - zero count - Σ bucket counts, varbit
//	zero bits up to the next byte boundary
//
// The count is not stored as such: it is (nearly always) the zero count
// plus the buckets' counts, which the decoder has just computed, so the
// chunk stores only the difference (the NaN observations), which is 0 and
// one bit in the normal case. Prometheus's chunk spends a delta-of-delta
// on it, as big as the busiest bucket's.
const histHeaderSize = 2

// MaxHistogramSamples is the most samples a histogram chunk holds.
const MaxHistogramSamples = countMask

// HistogramChunk is a compressed run of integer histogram samples of one
// series, all in one bucket layout.
//
// A HistogramChunk is not safe for concurrent use while it is being
// appended to; any number of iterators may read it concurrently otherwise.
type HistogramChunk struct{ histChunk }

// histChunk is what the two histogram chunk kinds share: the buffer (the
// header, then the samples) and whether the chunk owns it, and so the
// methods that read the header or take the buffer over.
type histChunk struct {
	w     bitWriter
	owned bool // the buffer is the chunk's own (see Chunk.owned)
}

// histChunkFromBytes wraps b, checking there is a header.
func histChunkFromBytes(b []byte) (histChunk, error) {
	if len(b) < histHeaderSize {
		return histChunk{}, fmt.Errorf("%w: histogram chunk of %d bytes has no header", ErrCorrupt, len(b))
	}
	return histChunk{w: bitWriter{buf: b, at: len(b)}}, nil
}

// Bytes returns the encoded chunk. The slice aliases the chunk's buffer: it
// is valid until the next Append.
func (c *histChunk) Bytes() []byte { return c.w.bytes() }

// NumSamples returns the number of samples in the chunk.
func (c *histChunk) NumSamples() int {
	return int(binary.BigEndian.Uint16(c.w.buf) & countMask)
}

// CounterResetHint returns the hint of the chunk's first sample, stored in
// the header: GaugeType for a chunk of gauge histograms, whose every
// sample has that hint.
func (c *histChunk) CounterResetHint() histogram.CounterResetHint {
	return histogram.CounterResetHint(c.w.buf[0] >> 6)
}

// own makes the buffer the chunk's own before its first append, so that
// appending never writes into a caller's slice: the bytes up to bit end,
// the end of the last sample (the rest of its byte cleared), are copied;
// an empty chunk (end < 0) starts a buffer of size bytes with the header.
func (c *histChunk) own(end, size int) {
	if c.owned {
		return
	}
	c.owned = true
	if end < 0 {
		hdr := c.w.buf[:histHeaderSize]
		c.w = newHistWriter(size)
		copy(c.w.buf, hdr)
		return
	}
	nbytes := (end + 7) >> 3
	buf := make([]byte, nbytes+64)
	copy(buf, c.w.buf[:nbytes])
	if r := end & 7; r != 0 {
		buf[nbytes-1] &= 0xff << (8 - r)
	}
	c.w = bitWriter{buf: buf}
	c.w.seek(end)
}

// NewHistogramChunk returns an empty histogram chunk.
func NewHistogramChunk() *HistogramChunk {
	return &HistogramChunk{histChunk{owned: true, w: newHistWriter(128)}}
}

func newHistWriter(size int) bitWriter {
	return bitWriter{buf: make([]byte, max(size, histHeaderSize+8)), at: histHeaderSize}
}

// HistogramChunkFromBytes wraps bytes produced by Bytes. It checks the
// header only; the samples are checked as they are decoded. The chunk keeps
// b (no copy) and never modifies it.
func HistogramChunkFromBytes(b []byte) (*HistogramChunk, error) {
	hc, err := histChunkFromBytes(b)
	if err != nil {
		return nil, err
	}
	return &HistogramChunk{hc}, nil
}

// Iterator returns an iterator over the chunk's samples, reusing it if not
// nil.
func (c *HistogramChunk) Iterator(it *HistogramIterator) *HistogramIterator {
	if it == nil {
		it = &HistogramIterator{}
	}
	it.Reset(c.Bytes())
	return it
}

// Appender returns an appender positioned after the chunk's last sample.
// For a chunk loaded with HistogramChunkFromBytes the samples are decoded
// once to recover the encoder's state and the bytes are copied, so
// appending never writes into the caller's slice. A corrupt chunk gives an
// error wrapping ErrCorrupt.
func (c *HistogramChunk) Appender() (*HistogramAppender, error) {
	a := &HistogramAppender{c: c}
	a.st.reset()
	end := -1
	if c.NumSamples() > 0 {
		var d histDecoder
		d.reset(c.Bytes())
		for d.step() {
		}
		if d.err != nil {
			return nil, fmt.Errorf("gorilla: resume appending: %w", d.err)
		}
		a.st, end = d.st, d.r.pos
	}
	c.own(end, 128)
	return a, nil
}

// histState is what the encoder and the decoder know after a sample: the
// layout, and each field's previous value and delta (or XOR window).
type histState struct {
	lay       histLayout
	n         int // samples so far
	t, tDelta int64
	sum       uint64 // bits of the previous sum
	leading   uint8
	trailing  uint8
	stale     bool // the previous sample was a staleness marker
	zc        uint64
	zcDelta   int64
	count     uint64
	excess    uint64 // count - zero count - Σ bucket counts
	// Per bucket, positive ones then negative ones: the previous stored
	// value (a bucket delta) and its change from the sample before.
	b, bDelta []int64
}

func (s *histState) reset() {
	*s = histState{lay: s.lay, b: s.b[:0], bDelta: s.bDelta[:0], leading: noWindow}
}

// startLayout sizes the bucket state for the layout just set.
func (s *histState) startLayout() {
	p, n := s.lay.numBuckets()
	s.b = append(s.b[:0], make([]int64, p+n)...)
	s.bDelta = append(s.bDelta[:0], make([]int64, p+n)...)
}

// HistogramAppender adds histograms to the end of a HistogramChunk.
type HistogramAppender struct {
	c  *HistogramChunk
	st histState
	// Scratch space for mapping an appended histogram onto the layout.
	buf []int64
}

// Append adds the histogram h at time t. The chunk keeps no reference to
// h. It returns
//   - ErrChunkFull when the chunk holds MaxHistogramSamples;
//   - ErrCounterReset or ErrLayoutChange (both wrap ErrNotAppendable) when
//     h cannot join this chunk: start a new chunk for it;
//   - an error wrapping histogram.ErrInvalid when h does not validate.
//
// The chunk is unchanged after an error. When h has buckets the chunk's
// layout lacks (and nothing else changed), the chunk is recoded: its
// samples are rewritten in the wider layout, with zeros in the new buckets,
// as Prometheus does. A bucket of the layout that h lacks is stored as 0,
// which is a counter reset unless the previous sample had 0 there too (or
// the chunk holds gauge histograms). A staleness marker (Sum is
// Prometheus's stale NaN) always fits; after one, only markers do.
func (a *HistogramAppender) Append(t int64, h *histogram.Histogram) error {
	c := a.c
	n := c.NumSamples()
	if n >= MaxHistogramSamples {
		return ErrChunkFull
	}
	stale := isStale(h.Sum)
	if !stale {
		if err := h.Validate(); err != nil {
			return fmt.Errorf("gorilla: append histogram: %w", err)
		}
	}
	if n == 0 {
		a.st.reset()
		if stale {
			a.st.lay.set(h.Schema, h.ZeroThreshold, nil, nil, nil)
		} else {
			a.st.lay.set(h.Schema, h.ZeroThreshold, h.PositiveSpans, h.NegativeSpans, h.CustomValues)
		}
		a.st.startLayout()
		hint := h.CounterResetHint
		binary.BigEndian.PutUint16(c.w.buf, uint16(hint)<<encShift)
		var tmp [binary.MaxVarintLen64]byte
		c.w.writeBytes(tmp[:binary.PutVarint(tmp[:], t)])
		c.w.writeLayout(&a.st.lay)
		a.encode(t, h, h.PositiveBuckets, h.NegativeBuckets, stale)
		return nil
	}
	if stale {
		a.encode(t, h, nil, nil, true)
		return nil
	}
	if a.st.stale {
		return fmt.Errorf("%w: a sample after a staleness marker", ErrLayoutChange)
	}
	gauge := c.CounterResetHint() == histogram.GaugeType
	if gauge != (h.CounterResetHint == histogram.GaugeType) {
		return fmt.Errorf("%w: gauge and counter histograms", ErrLayoutChange)
	}
	if !gauge {
		if h.CounterResetHint == histogram.CounterReset {
			return fmt.Errorf("%w: the histogram says so", ErrCounterReset)
		}
		if h.Count < a.st.count {
			return fmt.Errorf("%w: count %d after %d", ErrCounterReset, h.Count, a.st.count)
		}
	}
	lay := &a.st.lay
	if h.Schema != lay.schema || math.Float64bits(h.ZeroThreshold) != math.Float64bits(lay.zeroThreshold) {
		return fmt.Errorf("%w: schema %d zero threshold %g after schema %d zero threshold %g",
			ErrLayoutChange, h.Schema, h.ZeroThreshold, lay.schema, lay.zeroThreshold)
	}
	if !lay.sameShape(h.Schema, h.ZeroThreshold, h.CustomValues) {
		if gauge {
			return fmt.Errorf("%w: custom bounds changed", ErrLayoutChange)
		}
		return fmt.Errorf("%w: custom bounds changed", ErrCounterReset)
	}
	if !gauge && h.ZeroCount < a.st.zc {
		return fmt.Errorf("%w: zero count %d after %d", ErrCounterReset, h.ZeroCount, a.st.zc)
	}
	pos, neg := h.PositiveBuckets, h.NegativeBuckets
	if !spansEqual(h.PositiveSpans, lay.pSpans) || !spansEqual(h.NegativeSpans, lay.nSpans) {
		var err error
		if pos, neg, err = a.mapLayout(h, gauge); err != nil {
			return err
		}
	} else if !gauge {
		np := len(lay.pIdx)
		if bucketsDecreased(a.st.b[:np], pos) || bucketsDecreased(a.st.b[np:], neg) {
			return fmt.Errorf("%w: a bucket count went down", ErrCounterReset)
		}
	}
	a.encode(t, h, pos, neg, false)
	return nil
}

func spansEqual(a, b []histogram.Span) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// bucketsDecreased reports whether any absolute count of the delta-coded
// buckets cur is below the one of prev, the same buckets before.
func bucketsDecreased(prev, cur []int64) bool {
	var p, c int64
	for i := range cur {
		p += prev[i]
		c += cur[i]
		if c < p {
			return true
		}
	}
	return false
}

// mapLayout handles a histogram whose spans differ from the chunk's: it
// returns h's buckets on the chunk's layout, after recoding the chunk into
// the union of both layouts if h has buckets the chunk lacks. For a
// counter, a bucket of the chunk that h lacks or has with a smaller count
// is a counter reset.
func (a *HistogramAppender) mapLayout(h *histogram.Histogram, gauge bool) (pos, neg []int64, err error) {
	lay := &a.st.lay
	hp := appendIndexes(nil, h.PositiveSpans)
	hn := appendIndexes(nil, h.NegativeSpans)
	up, grewP := unionIndexes(lay.pIdx, hp)
	un, grewN := unionIndexes(lay.nIdx, hn)
	np := len(lay.pIdx)
	if !gauge {
		// Compare h and the previous sample bucket by bucket, both laid out
		// on the union.
		for _, side := range [2]struct {
			u, oldIdx, newIdx []int64
			old, cur          []int64
		}{
			{up, lay.pIdx, hp, a.st.b[:np], h.PositiveBuckets},
			{un, lay.nIdx, hn, a.st.b[np:], h.NegativeBuckets},
		} {
			o := make([]int64, len(side.u))
			c := make([]int64, len(side.u))
			expandInt(o, side.u, side.old, side.oldIdx)
			expandInt(c, side.u, side.cur, side.newIdx)
			if bucketsDecreased(o, c) {
				return nil, nil, fmt.Errorf("%w: a bucket count went down or a used bucket is gone", ErrCounterReset)
			}
		}
	}
	if grewP || grewN {
		if err := a.recode(spansOf(up), spansOf(un)); err != nil {
			return nil, nil, err
		}
	}
	np, nn := lay.numBuckets()
	if cap(a.buf) < np+nn {
		a.buf = make([]int64, np+nn)
	}
	pos, neg = a.buf[:np], a.buf[np:np+nn]
	expandInt(pos, lay.pIdx, h.PositiveBuckets, hp)
	expandInt(neg, lay.nIdx, h.NegativeBuckets, hn)
	return pos, neg, nil
}

// recode rewrites the chunk with the wider layout pSpans, nSpans (which
// cover every bucket of the current one): every sample is decoded, given
// zeros in the new buckets and appended to a new chunk, whose bytes then
// replace the old ones. The counter-reset hint is kept.
func (a *HistogramAppender) recode(pSpans, nSpans []histogram.Span) error {
	old := a.c.Bytes()
	fresh := &HistogramChunk{histChunk{owned: true, w: newHistWriter(len(old) + len(old)/2 + 16)}}
	na := &HistogramAppender{c: fresh}
	it := NewHistogramIterator(old)
	var src, dst histogram.Histogram
	pIdx, nIdx := appendIndexes(nil, pSpans), appendIndexes(nil, nSpans)
	pBuf, nBuf := make([]int64, len(pIdx)), make([]int64, len(nIdx))
	for i := 0; it.Next(); i++ {
		t, _ := it.AtHistogram(&src)
		dst = src
		dst.CounterResetHint = histogram.NotCounterReset
		if i == 0 {
			dst.CounterResetHint = a.c.CounterResetHint()
		}
		if !isStale(src.Sum) {
			dst.PositiveSpans, dst.NegativeSpans = pSpans, nSpans
			// encode copies the buckets: one buffer serves every sample.
			dst.PositiveBuckets, dst.NegativeBuckets = pBuf, nBuf
			expandInt(dst.PositiveBuckets, pIdx, src.PositiveBuckets, it.d.st.lay.pIdx)
			expandInt(dst.NegativeBuckets, nIdx, src.NegativeBuckets, it.d.st.lay.nIdx)
		}
		if i == 0 {
			// The first append sets the layout; it must be the wide one
			// even when the first sample is a staleness marker.
			na.st.reset()
			na.st.lay.set(src.Schema, src.ZeroThreshold, pSpans, nSpans, it.d.st.lay.custom)
			na.st.startLayout()
			binary.BigEndian.PutUint16(fresh.w.buf, uint16(dst.CounterResetHint)<<encShift)
			var tmp [binary.MaxVarintLen64]byte
			fresh.w.writeBytes(tmp[:binary.PutVarint(tmp[:], t)])
			fresh.w.writeLayout(&na.st.lay)
			na.encode(t, &dst, dst.PositiveBuckets, dst.NegativeBuckets, isStale(src.Sum))
			continue
		}
		na.encode(t, &dst, dst.PositiveBuckets, dst.NegativeBuckets, isStale(src.Sum))
	}
	if it.Err() != nil {
		return fmt.Errorf("gorilla: recoding a histogram chunk: %w", it.Err())
	}
	*a.c = *fresh
	a.st = na.st
	return nil
}

// encode appends one sample whose buckets pos and neg are on the chunk's
// layout, and updates the header's count.
func (a *HistogramAppender) encode(t int64, h *histogram.Histogram, pos, neg []int64, stale bool) {
	w := &a.c.w
	s := &a.st
	if s.n > 0 {
		d := t - s.t
		w.writeDod(d - s.tDelta)
		s.tDelta = d
	}
	s.t = t
	sb := math.Float64bits(h.Sum)
	w.writeXOR(0, 0, sb^s.sum, &s.leading, &s.trailing)
	s.sum = sb
	s.stale = stale
	if !stale {
		first := s.n == 0
		zd := int64(h.ZeroCount - s.zc)
		if first {
			w.writeVarbit(zd)
		} else {
			w.writeVarbit(zd - s.zcDelta)
			s.zcDelta = zd
		}
		s.zc = h.ZeroCount
		var total uint64
		np := len(pos)
		for side, bs := range [2][]int64{pos, neg} {
			prev, delta := s.b[side*np:], s.bDelta[side*np:]
			var abs int64
			for i, v := range bs {
				d := v - prev[i]
				if first {
					w.writeVarbit(d)
				} else {
					w.writeVarbit(d - delta[i])
					delta[i] = d
				}
				prev[i] = v
				abs += v
				total += uint64(abs)
			}
		}
		excess := h.Count - h.ZeroCount - total
		w.writeVarbit(int64(excess - s.excess))
		s.excess = excess
		s.count = h.Count
	}
	s.n++
	if s.n == 1 {
		s.leading = noWindow // as floatHistState.forgetWindows, for the sum
	}
	binary.BigEndian.PutUint16(w.buf, binary.BigEndian.Uint16(w.buf)+1)
}

// histDecoder reads an integer histogram chunk sample by sample; Iterator
// and Appender's resume run on it.
type histDecoder struct {
	r     bitReader
	total int
	hint  histogram.CounterResetHint
	st    histState
	err   error
}

func (d *histDecoder) reset(b []byte) {
	d.r = bitReader{b: b, pos: histHeaderSize * 8}
	d.st.reset()
	d.err = nil
	d.total = 0
	if len(b) < histHeaderSize {
		d.err = fmt.Errorf("%w: histogram chunk of %d bytes has no header", ErrCorrupt, len(b))
		return
	}
	hdr := binary.BigEndian.Uint16(b)
	d.hint = histogram.CounterResetHint(hdr >> encShift)
	d.total = int(hdr & countMask)
	if d.total == 0 && len(b) != histHeaderSize {
		d.err = fmt.Errorf("%w: %d bytes after an empty chunk's header", ErrCorrupt, len(b)-histHeaderSize)
	}
}

// step decodes one sample and reports whether it is valid; false with
// d.err == nil means the chunk is exhausted.
func (d *histDecoder) step() bool {
	s := &d.st
	if d.err != nil || s.n >= d.total {
		return false
	}
	r := &d.r
	if s.n == 0 {
		t, k := binary.Varint(r.b[r.pos>>3:])
		if k <= 0 {
			d.err = fmt.Errorf("%w: bad first timestamp", ErrCorrupt)
			return false
		}
		r.pos += k * 8
		s.t = t
		if err := r.readLayout(&s.lay); err != nil {
			d.err = err
			return false
		}
		s.startLayout()
	} else {
		s.tDelta += r.readDod()
		s.t += s.tDelta
	}
	x, ok := r.readXOR(&s.leading, &s.trailing)
	if !ok {
		d.err = fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, s.n)
		return false
	}
	s.sum ^= x
	stale := s.sum == staleNaN
	if s.stale && !stale {
		d.err = fmt.Errorf("%w: sample %d follows a staleness marker", ErrCorrupt, s.n)
		return false
	}
	s.stale = stale
	if !stale {
		first := s.n == 0
		if first {
			s.zc = uint64(r.readVarbit())
		} else {
			s.zcDelta += r.readVarbit()
			s.zc += uint64(s.zcDelta)
		}
		var total uint64
		np := len(s.lay.pIdx)
		if first {
			for _, bs := range [2][]int64{s.b[:np], s.b[np:]} {
				var abs int64
				for i := range bs {
					bs[i] = r.readVarbit()
					abs += bs[i]
					total += uint64(abs)
				}
			}
		} else {
			total = r.readBucketDods(s.b[:np], s.bDelta[:np]) + r.readBucketDods(s.b[np:], s.bDelta[np:])
		}
		s.excess += uint64(r.readVarbit())
		s.count = s.zc + total + s.excess
	}
	s.n++
	if s.n == 1 {
		s.leading = noWindow
	}
	if r.overrun() {
		d.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, s.n-1)
		return false
	}
	if s.n == d.total {
		if (r.pos+7)>>3 != len(r.b) {
			d.err = fmt.Errorf("%w: %d bytes after the last sample", ErrCorrupt, len(r.b)-(r.pos+7)>>3)
			return false
		}
		if pad := r.pos & 7; pad != 0 && r.b[len(r.b)-1]<<uint(pad) != 0 {
			d.err = fmt.Errorf("%w: padding bits are not zero", ErrCorrupt)
			return false
		}
	}
	return true
}

// sampleHint is the counter-reset hint of the current sample: the
// header's for the first, GaugeType throughout a gauge chunk, and
// NotCounterReset for the others (a reset would have started a new chunk).
func sampleHint(hdr histogram.CounterResetHint, n int) histogram.CounterResetHint {
	switch {
	case hdr == histogram.GaugeType:
		return histogram.GaugeType
	case n == 1:
		return hdr
	}
	return histogram.NotCounterReset
}

// HistogramIterator reads a histogram chunk one sample at a time. The
// contract is Iterator's: call Next (or SeekTo) before At…; once they have
// returned false the iterator is exhausted and Err says whether it stopped
// on corrupt data.
type HistogramIterator struct {
	d histDecoder
}

// NewHistogramIterator returns an iterator over the histogram chunk bytes b.
func NewHistogramIterator(b []byte) *HistogramIterator {
	it := &HistogramIterator{}
	it.Reset(b)
	return it
}

// Reset makes the iterator start over on the chunk bytes b, keeping its
// buffers.
func (it *HistogramIterator) Reset(b []byte) { it.d.reset(b) }

// Next advances to the next sample and reports whether there is one.
func (it *HistogramIterator) Next() bool { return it.d.step() }

// SeekTo advances to the first sample with a timestamp >= t, as
// Iterator.SeekTo does: it never moves backwards.
func (it *HistogramIterator) SeekTo(t int64) bool {
	if it.d.st.n > 0 && it.d.err == nil && it.d.st.t >= t {
		return true
	}
	for it.Next() {
		if it.d.st.t >= t {
			return true
		}
	}
	return false
}

// AtT returns the current sample's timestamp, without building the
// histogram.
func (it *HistogramIterator) AtT() int64 { return it.d.st.t }

// AtHistogram returns the current sample. With dst nil the histogram is
// newly allocated; otherwise it is written into dst, reusing dst's slices,
// and dst is returned. Either way it shares nothing with the iterator.
// A staleness marker comes back as a histogram with only its Sum set.
func (it *HistogramIterator) AtHistogram(dst *histogram.Histogram) (int64, *histogram.Histogram) {
	if dst == nil {
		dst = &histogram.Histogram{}
	}
	s := &it.d.st
	if s.stale {
		*dst = histogram.Histogram{Sum: math.Float64frombits(s.sum),
			PositiveSpans: dst.PositiveSpans[:0], NegativeSpans: dst.NegativeSpans[:0],
			PositiveBuckets: dst.PositiveBuckets[:0], NegativeBuckets: dst.NegativeBuckets[:0],
			CustomValues: dst.CustomValues[:0]}
		return s.t, dst
	}
	np := len(s.lay.pIdx)
	*dst = histogram.Histogram{
		CounterResetHint: sampleHint(it.d.hint, s.n),
		Schema:           s.lay.schema,
		ZeroThreshold:    s.lay.zeroThreshold,
		ZeroCount:        s.zc,
		Count:            s.count,
		Sum:              math.Float64frombits(s.sum),
		PositiveSpans:    append(dst.PositiveSpans[:0], s.lay.pSpans...),
		NegativeSpans:    append(dst.NegativeSpans[:0], s.lay.nSpans...),
		PositiveBuckets:  append(dst.PositiveBuckets[:0], s.b[:np]...),
		NegativeBuckets:  append(dst.NegativeBuckets[:0], s.b[np:]...),
		CustomValues:     append(dst.CustomValues[:0], s.lay.custom...),
	}
	return s.t, dst
}

// AtFloatHistogram returns the current sample in float form (absolute
// bucket counts), allocated or written into dst as AtHistogram does.
func (it *HistogramIterator) AtFloatHistogram(dst *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if dst == nil {
		dst = &histogram.FloatHistogram{}
	}
	s := &it.d.st
	if s.stale {
		*dst = histogram.FloatHistogram{Sum: math.Float64frombits(s.sum),
			PositiveSpans: dst.PositiveSpans[:0], NegativeSpans: dst.NegativeSpans[:0],
			PositiveBuckets: dst.PositiveBuckets[:0], NegativeBuckets: dst.NegativeBuckets[:0],
			CustomValues: dst.CustomValues[:0]}
		return s.t, dst
	}
	np := len(s.lay.pIdx)
	*dst = histogram.FloatHistogram{
		CounterResetHint: sampleHint(it.d.hint, s.n),
		Schema:           s.lay.schema,
		ZeroThreshold:    s.lay.zeroThreshold,
		ZeroCount:        float64(s.zc),
		Count:            float64(s.count),
		Sum:              math.Float64frombits(s.sum),
		PositiveSpans:    append(dst.PositiveSpans[:0], s.lay.pSpans...),
		NegativeSpans:    append(dst.NegativeSpans[:0], s.lay.nSpans...),
		PositiveBuckets:  appendAbsolute(dst.PositiveBuckets[:0], s.b[:np]),
		NegativeBuckets:  appendAbsolute(dst.NegativeBuckets[:0], s.b[np:]),
		CustomValues:     append(dst.CustomValues[:0], s.lay.custom...),
	}
	return s.t, dst
}

func appendAbsolute(dst []float64, deltas []int64) []float64 {
	var c int64
	for _, d := range deltas {
		c += d
		dst = append(dst, float64(c))
	}
	return dst
}

// Err returns the error that stopped the iteration, if any.
func (it *HistogramIterator) Err() error { return it.d.err }
