package gorilla

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// Float histogram chunk layout: the integer chunk's header, first
// timestamp, layout and timestamp codes (histchunk.go), but every number is
// a float, XOR-coded (xor.go) against the same field of the previous sample
// with a window of its own, the first sample against 0:
//
//	t        as in the integer chunk
//	sum      XOR (a staleness marker's sample ends here)
//	zero     XOR
//	buckets  positive then negative, each XOR against itself
//	count    XOR against the zero count plus the bucket counts, summed in
//	         that order: equal (one '0' bit) unless NaN observations or
//	         rounding make them differ
//	zero bits up to the next byte boundary
//
// Float histograms come from queries (rate gives fractions) and from
// gauges; their counts are rarely whole, so there is nothing to gain from
// differences.

// xorField is one XOR-coded number: its previous bits and window.
type xorField struct {
	v                 uint64
	leading, trailing uint8
}

func (f *xorField) write(w *bitWriter, v float64) {
	b := math.Float64bits(v)
	w.writeXOR(0, 0, b^f.v, &f.leading, &f.trailing)
	f.v = b
}

func (f *xorField) read(r *bitReader) bool {
	x, ok := r.readXOR(&f.leading, &f.trailing)
	f.v ^= x
	return ok
}

func (f *xorField) float() float64 { return math.Float64frombits(f.v) }

var newXORField = xorField{leading: noWindow}

// floatHistState is histState for float histograms.
type floatHistState struct {
	lay            histLayout
	n              int
	t, tDelta      int64
	stale          bool
	sum, zc, count xorField
	b              []xorField // positive buckets, then negative ones
}

func (s *floatHistState) reset() {
	*s = floatHistState{lay: s.lay, b: s.b[:0], sum: newXORField, zc: newXORField, count: newXORField}
}

func (s *floatHistState) startLayout() {
	p, n := s.lay.numBuckets()
	s.b = s.b[:0]
	for range p + n {
		s.b = append(s.b, newXORField)
	}
}

// forgetWindows drops every field's XOR window after the first sample.
// The first sample is coded against 0, so its window spans nearly all the
// value's bits; kept, it would fit every later XOR and each would be stored
// that wide. Dropped, the second sample opens a window as narrow as its
// own change, as in an XOR chunk, whose first value has no window.
func (s *floatHistState) forgetWindows() {
	s.sum.leading, s.zc.leading, s.count.leading = noWindow, noWindow, noWindow
	for i := range s.b {
		s.b[i].leading = noWindow
	}
}

// predictedCount is the zero count plus the bucket counts of the current
// sample, summed in the order the encoder and the decoder both use.
func (s *floatHistState) predictedCount() float64 {
	c := s.zc.float()
	for i := range s.b {
		c += s.b[i].float()
	}
	return c
}

// FloatHistogramChunk is a compressed run of float histogram samples of
// one series, all in one bucket layout.
type FloatHistogramChunk struct{ histChunk }

// NewFloatHistogramChunk returns an empty float histogram chunk.
func NewFloatHistogramChunk() *FloatHistogramChunk {
	return &FloatHistogramChunk{histChunk{owned: true, w: newHistWriter(256)}}
}

// FloatHistogramChunkFromBytes wraps bytes produced by Bytes, as
// HistogramChunkFromBytes does.
func FloatHistogramChunkFromBytes(b []byte) (*FloatHistogramChunk, error) {
	hc, err := histChunkFromBytes(b)
	if err != nil {
		return nil, err
	}
	return &FloatHistogramChunk{hc}, nil
}

// Iterator returns an iterator over the chunk's samples, reusing it if not
// nil.
func (c *FloatHistogramChunk) Iterator(it *FloatHistogramIterator) *FloatHistogramIterator {
	if it == nil {
		it = &FloatHistogramIterator{}
	}
	it.Reset(c.Bytes())
	return it
}

// Appender returns an appender positioned after the chunk's last sample,
// as HistogramChunk.Appender does.
func (c *FloatHistogramChunk) Appender() (*FloatHistogramAppender, error) {
	a := &FloatHistogramAppender{c: c}
	a.st.reset()
	end := -1
	if c.NumSamples() > 0 {
		var d floatHistDecoder
		d.reset(c.Bytes())
		for d.step() {
		}
		if d.err != nil {
			return nil, fmt.Errorf("gorilla: resume appending: %w", d.err)
		}
		a.st, end = d.st, d.r.pos
	}
	c.own(end, 256)
	return a, nil
}

// FloatHistogramAppender adds float histograms to the end of a
// FloatHistogramChunk.
type FloatHistogramAppender struct {
	c   *FloatHistogramChunk
	st  floatHistState
	buf []float64
}

// Append adds the float histogram h at time t, with the errors, the
// recoding and the staleness rules of HistogramAppender.Append.
func (a *FloatHistogramAppender) Append(t int64, h *histogram.FloatHistogram) error {
	c := a.c
	n := c.NumSamples()
	if n >= MaxHistogramSamples {
		return ErrChunkFull
	}
	stale := isStale(h.Sum)
	if !stale {
		if err := h.Validate(); err != nil {
			return fmt.Errorf("gorilla: append float histogram: %w", err)
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
		binary.BigEndian.PutUint16(c.w.buf, uint16(h.CounterResetHint)<<encShift)
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
		if prev := a.st.count.float(); h.Count < prev {
			return fmt.Errorf("%w: count %g after %g", ErrCounterReset, h.Count, prev)
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
	if prev := a.st.zc.float(); !gauge && h.ZeroCount < prev {
		return fmt.Errorf("%w: zero count %g after %g", ErrCounterReset, h.ZeroCount, prev)
	}
	pos, neg := h.PositiveBuckets, h.NegativeBuckets
	if !spansEqual(h.PositiveSpans, lay.pSpans) || !spansEqual(h.NegativeSpans, lay.nSpans) {
		var err error
		if pos, neg, err = a.mapLayout(h, gauge); err != nil {
			return err
		}
	} else if !gauge {
		np := len(lay.pIdx)
		if floatsDecreased(a.st.b[:np], pos) || floatsDecreased(a.st.b[np:], neg) {
			return fmt.Errorf("%w: a bucket count went down", ErrCounterReset)
		}
	}
	a.encode(t, h, pos, neg, false)
	return nil
}

func floatsDecreased(prev []xorField, cur []float64) bool {
	for i, c := range cur {
		if c < prev[i].float() {
			return true
		}
	}
	return false
}

// mapLayout is HistogramAppender.mapLayout for float histograms.
func (a *FloatHistogramAppender) mapLayout(h *histogram.FloatHistogram, gauge bool) (pos, neg []float64, err error) {
	lay := &a.st.lay
	hp := appendIndexes(nil, h.PositiveSpans)
	hn := appendIndexes(nil, h.NegativeSpans)
	up, grewP := unionIndexes(lay.pIdx, hp)
	un, grewN := unionIndexes(lay.nIdx, hn)
	np := len(lay.pIdx)
	if !gauge {
		for _, side := range [2]struct {
			u, oldIdx, newIdx []int64
			old               []xorField
			cur               []float64
		}{
			{up, lay.pIdx, hp, a.st.b[:np], h.PositiveBuckets},
			{un, lay.nIdx, hn, a.st.b[np:], h.NegativeBuckets},
		} {
			old := make([]float64, len(side.old))
			for i := range side.old {
				old[i] = side.old[i].float()
			}
			o := make([]float64, len(side.u))
			c := make([]float64, len(side.u))
			expandFloat(o, side.u, old, side.oldIdx)
			expandFloat(c, side.u, side.cur, side.newIdx)
			for i := range o {
				if c[i] < o[i] {
					return nil, nil, fmt.Errorf("%w: a bucket count went down or a used bucket is gone", ErrCounterReset)
				}
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
		a.buf = make([]float64, np+nn)
	}
	pos, neg = a.buf[:np], a.buf[np:np+nn]
	expandFloat(pos, lay.pIdx, h.PositiveBuckets, hp)
	expandFloat(neg, lay.nIdx, h.NegativeBuckets, hn)
	return pos, neg, nil
}

// recode is HistogramAppender.recode for float histograms.
func (a *FloatHistogramAppender) recode(pSpans, nSpans []histogram.Span) error {
	old := a.c.Bytes()
	fresh := &FloatHistogramChunk{histChunk{owned: true, w: newHistWriter(len(old) + len(old)/2 + 16)}}
	na := &FloatHistogramAppender{c: fresh}
	it := NewFloatHistogramIterator(old)
	var src, dst histogram.FloatHistogram
	pIdx, nIdx := appendIndexes(nil, pSpans), appendIndexes(nil, nSpans)
	pBuf, nBuf := make([]float64, len(pIdx)), make([]float64, len(nIdx))
	for i := 0; it.Next(); i++ {
		t, _ := it.AtFloatHistogram(&src)
		dst = src
		stale := isStale(src.Sum)
		if !stale {
			dst.PositiveSpans, dst.NegativeSpans = pSpans, nSpans
			// encode copies the buckets: one buffer serves every sample.
			dst.PositiveBuckets, dst.NegativeBuckets = pBuf, nBuf
			expandFloat(dst.PositiveBuckets, pIdx, src.PositiveBuckets, it.d.st.lay.pIdx)
			expandFloat(dst.NegativeBuckets, nIdx, src.NegativeBuckets, it.d.st.lay.nIdx)
		}
		if i == 0 {
			na.st.reset()
			na.st.lay.set(src.Schema, src.ZeroThreshold, pSpans, nSpans, it.d.st.lay.custom)
			na.st.startLayout()
			binary.BigEndian.PutUint16(fresh.w.buf, uint16(a.c.CounterResetHint())<<encShift)
			var tmp [binary.MaxVarintLen64]byte
			fresh.w.writeBytes(tmp[:binary.PutVarint(tmp[:], t)])
			fresh.w.writeLayout(&na.st.lay)
		}
		na.encode(t, &dst, dst.PositiveBuckets, dst.NegativeBuckets, stale)
	}
	if it.Err() != nil {
		return fmt.Errorf("gorilla: recoding a float histogram chunk: %w", it.Err())
	}
	*a.c = *fresh
	a.st = na.st
	return nil
}

// encode appends one sample whose buckets are on the chunk's layout.
func (a *FloatHistogramAppender) encode(t int64, h *histogram.FloatHistogram, pos, neg []float64, stale bool) {
	w := &a.c.w
	s := &a.st
	if s.n > 0 {
		d := t - s.t
		w.writeDod(d - s.tDelta)
		s.tDelta = d
	}
	s.t = t
	s.sum.write(w, h.Sum)
	s.stale = stale
	if !stale {
		s.zc.write(w, h.ZeroCount)
		np := len(pos)
		for i, v := range pos {
			s.b[i].write(w, v)
		}
		for i, v := range neg {
			s.b[np+i].write(w, v)
		}
		pred := math.Float64bits(s.predictedCount())
		cb := math.Float64bits(h.Count)
		w.writeXOR(0, 0, cb^pred, &s.count.leading, &s.count.trailing)
		s.count.v = cb
	}
	s.n++
	if s.n == 1 {
		s.forgetWindows()
	}
	binary.BigEndian.PutUint16(w.buf, binary.BigEndian.Uint16(w.buf)+1)
}

// floatHistDecoder reads a float histogram chunk sample by sample.
type floatHistDecoder struct {
	r     bitReader
	total int
	hint  histogram.CounterResetHint
	st    floatHistState
	err   error
}

func (d *floatHistDecoder) reset(b []byte) {
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

func (d *floatHistDecoder) step() bool {
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
	ok := s.sum.read(r)
	stale := s.sum.v == staleNaN
	if ok && s.stale && !stale {
		d.err = fmt.Errorf("%w: sample %d follows a staleness marker", ErrCorrupt, s.n)
		return false
	}
	s.stale = stale
	if ok && !stale {
		ok = s.zc.read(r)
		var pred float64
		if ok {
			pred, ok = r.readXORFields(s.b, s.zc.float())
		}
		x, okc := r.readXOR(&s.count.leading, &s.count.trailing)
		s.count.v = math.Float64bits(pred) ^ x
		ok = ok && okc
	}
	if !ok {
		d.err = fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, s.n)
		return false
	}
	s.n++
	if s.n == 1 {
		s.forgetWindows()
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

// FloatHistogramIterator reads a float histogram chunk one sample at a
// time, with HistogramIterator's contract.
type FloatHistogramIterator struct {
	d floatHistDecoder
}

// NewFloatHistogramIterator returns an iterator over the float histogram
// chunk bytes b.
func NewFloatHistogramIterator(b []byte) *FloatHistogramIterator {
	it := &FloatHistogramIterator{}
	it.Reset(b)
	return it
}

// Reset makes the iterator start over on the chunk bytes b.
func (it *FloatHistogramIterator) Reset(b []byte) { it.d.reset(b) }

// Next advances to the next sample and reports whether there is one.
func (it *FloatHistogramIterator) Next() bool { return it.d.step() }

// SeekTo advances to the first sample with a timestamp >= t; it never
// moves backwards.
func (it *FloatHistogramIterator) SeekTo(t int64) bool {
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

// AtT returns the current sample's timestamp.
func (it *FloatHistogramIterator) AtT() int64 { return it.d.st.t }

// AtFloatHistogram returns the current sample, allocated or written into
// dst as HistogramIterator.AtHistogram does.
func (it *FloatHistogramIterator) AtFloatHistogram(dst *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if dst == nil {
		dst = &histogram.FloatHistogram{}
	}
	s := &it.d.st
	pb, nb := dst.PositiveBuckets[:0], dst.NegativeBuckets[:0]
	if s.stale {
		*dst = histogram.FloatHistogram{Sum: s.sum.float(),
			PositiveSpans: dst.PositiveSpans[:0], NegativeSpans: dst.NegativeSpans[:0],
			PositiveBuckets: pb, NegativeBuckets: nb, CustomValues: dst.CustomValues[:0]}
		return s.t, dst
	}
	np := len(s.lay.pIdx)
	for i := range s.b[:np] {
		pb = append(pb, s.b[i].float())
	}
	for i := range s.b[np:] {
		nb = append(nb, s.b[np+i].float())
	}
	*dst = histogram.FloatHistogram{
		CounterResetHint: sampleHint(it.d.hint, s.n),
		Schema:           s.lay.schema,
		ZeroThreshold:    s.lay.zeroThreshold,
		ZeroCount:        s.zc.float(),
		Count:            s.count.float(),
		Sum:              s.sum.float(),
		PositiveSpans:    append(dst.PositiveSpans[:0], s.lay.pSpans...),
		NegativeSpans:    append(dst.NegativeSpans[:0], s.lay.nSpans...),
		PositiveBuckets:  pb,
		NegativeBuckets:  nb,
		CustomValues:     append(dst.CustomValues[:0], s.lay.custom...),
	}
	return s.t, dst
}

// Err returns the error that stopped the iteration, if any.
func (it *FloatHistogramIterator) Err() error { return it.d.err }

// readXORFields decodes one XOR code into each field: the inner loop of
// decoding a float histogram sample, readXOR inlined with the position in
// a local variable, so a bucket costs one or two loads and no call. Codes
// wider than two loads take (windows over 57 bits) go through readXOR. It
// returns false on control bits no encoder writes.
//
// It also returns acc plus the fields' values, added in order: the count's
// prediction (predictedCount), summed here while the values are at hand.
func (r *bitReader) readXORFields(fs []xorField, acc float64) (float64, bool) {
	buf, pos := r.b, r.pos
	for i := range fs {
		f := &fs[i]
		word := peekAt(buf, pos)
		switch {
		case word>>63 == 0: // '0': the value repeats
			pos++
		case word>>62&1 == 0: // '10': the previous window
			m := 64 - int(f.leading) - int(f.trailing)
			if f.leading != noWindow && m+2 > maxFast && m <= maxFast {
				// A wide window: the bits after the prefix in a second load.
				f.v ^= peekAt(buf, pos+2) >> uint(64-m) << f.trailing
				pos += 2 + m
				break
			}
			if f.leading == noWindow || m+2 > maxFast {
				r.pos = pos
				x, ok := r.readXOR(&f.leading, &f.trailing)
				if !ok {
					return acc, false
				}
				f.v ^= x
				pos = r.pos
				break
			}
			f.v ^= word << 2 >> uint(64-m) << f.trailing
			pos += 2 + m
		default: // '11': a new window
			lz := int(word << 2 >> 59)
			m := int(word << 7 >> 58)
			if m != 0 && 13+m > maxFast && m <= maxFast && lz+m <= 64 {
				// A wide window, common for fractional counts: the bits
				// after the 13-bit header in a second load.
				tz := 64 - lz - m
				f.leading, f.trailing = uint8(lz), uint8(tz)
				f.v ^= peekAt(buf, pos+13) >> uint(64-m) << uint(tz)
				pos += 13 + m
				break
			}
			if m == 0 || 13+m > maxFast || lz+m > 64 {
				r.pos = pos
				x, ok := r.readXOR(&f.leading, &f.trailing)
				if !ok {
					return acc, false
				}
				f.v ^= x
				pos = r.pos
				break
			}
			tz := 64 - lz - m
			f.leading, f.trailing = uint8(lz), uint8(tz)
			f.v ^= word << 13 >> uint(64-m) << uint(tz)
			pos += 13 + m
		}
		acc += math.Float64frombits(f.v)
	}
	r.pos = pos
	return acc, true
}
