package wal

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// Record types of native histogram samples. The numbers are Prometheus's
// (its record.HistogramSamples and record.FloatHistogramSamples), so a
// record type means the same thing in both logs, though the payloads differ.
const (
	RecordHistograms      RecordType = 7 // a batch of integer histogram samples
	RecordFloatHistograms RecordType = 8 // a batch of float histogram samples
)

// RefHistogram is one integer histogram sample of the series Ref.
type RefHistogram struct {
	Ref uint64
	T   int64
	H   *histogram.Histogram
}

// RefFloatHistogram is one float histogram sample of the series Ref.
type RefFloatHistogram struct {
	Ref uint64
	T   int64
	FH  *histogram.FloatHistogram
}

// Histogram records (histrecord.go), after the type byte and count, are
// delta-encoded against the first sample like samples records; then each
// sample carries its histogram whole:
//
//	type=7 | uvarint n | uvarint ref0 | varint t0 | hist
//	                   | (n-1) × (varint ref-ref0 | varint t-t0 | hist)
//	hist:  1 byte counter-reset hint | varint schema | 8-byte LE zero threshold
//	       | uvarint zero count | uvarint count | 8-byte LE sum
//	       | spans (positive) | spans (negative)
//	       | uvarint k | k × varint bucket delta (positive) | the same (negative)
//	       | uvarint c | c × 8-byte LE custom bound
//	spans: uvarint k | k × (varint offset | uvarint length)
//
// Type 8 is the same with the zero count, the count and each bucket as an
// 8-byte LE float64 (absolute counts). Floats are raw bits, so NaN sums and
// -0 survive; the frame's compression takes what repeats between the
// samples of a batch.

// AppendHistograms appends the encoding of integer histogram samples to dst.
func AppendHistograms(dst []byte, samples []RefHistogram) []byte {
	dst = append(dst, byte(RecordHistograms))
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	for i, s := range samples {
		dst = appendRefT(dst, i, s.Ref, s.T, samples[0].Ref, samples[0].T)
		h := s.H
		dst = appendHistHead(dst, h.CounterResetHint, h.Schema, h.ZeroThreshold)
		dst = binary.AppendUvarint(dst, h.ZeroCount)
		dst = binary.AppendUvarint(dst, h.Count)
		dst = appendFloat(dst, h.Sum)
		dst = appendSpans(dst, h.PositiveSpans)
		dst = appendSpans(dst, h.NegativeSpans)
		for _, bs := range [2][]int64{h.PositiveBuckets, h.NegativeBuckets} {
			dst = binary.AppendUvarint(dst, uint64(len(bs)))
			for _, b := range bs {
				dst = binary.AppendVarint(dst, b)
			}
		}
		dst = appendFloats(dst, h.CustomValues)
	}
	return dst
}

// AppendFloatHistograms appends the encoding of float histogram samples to
// dst.
func AppendFloatHistograms(dst []byte, samples []RefFloatHistogram) []byte {
	dst = append(dst, byte(RecordFloatHistograms))
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	for i, s := range samples {
		dst = appendRefT(dst, i, s.Ref, s.T, samples[0].Ref, samples[0].T)
		h := s.FH
		dst = appendHistHead(dst, h.CounterResetHint, h.Schema, h.ZeroThreshold)
		dst = appendFloat(dst, h.ZeroCount)
		dst = appendFloat(dst, h.Count)
		dst = appendFloat(dst, h.Sum)
		dst = appendSpans(dst, h.PositiveSpans)
		dst = appendSpans(dst, h.NegativeSpans)
		dst = appendFloats(dst, h.PositiveBuckets)
		dst = appendFloats(dst, h.NegativeBuckets)
		dst = appendFloats(dst, h.CustomValues)
	}
	return dst
}

func appendRefT(dst []byte, i int, ref uint64, t int64, ref0 uint64, t0 int64) []byte {
	if i == 0 {
		dst = binary.AppendUvarint(dst, ref)
		return binary.AppendVarint(dst, t)
	}
	dst = binary.AppendVarint(dst, int64(ref-ref0))
	return binary.AppendVarint(dst, t-t0)
}

func appendHistHead(dst []byte, hint histogram.CounterResetHint, schema int32, zt float64) []byte {
	dst = append(dst, byte(hint))
	dst = binary.AppendVarint(dst, int64(schema))
	return appendFloat(dst, zt)
}

func appendFloat(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendFloats(dst []byte, fs []float64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(fs)))
	for _, f := range fs {
		dst = appendFloat(dst, f)
	}
	return dst
}

func appendSpans(dst []byte, spans []histogram.Span) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	for _, s := range spans {
		dst = binary.AppendVarint(dst, int64(s.Offset))
		dst = binary.AppendUvarint(dst, uint64(s.Length))
	}
	return dst
}

// histogram items take at least: 2 bytes ref and t, 1 hint, 1 schema, 8
// zero threshold, 2 counts, 8 sum, 5 counts of spans/buckets/bounds.
const minHistItem = 27

// DecodeHistograms decodes an integer histogram record, appending to
// dst[:0]. Each histogram is newly allocated (the head keeps them). A
// histogram that fails Validate is corruption: Append never logs one.
func DecodeHistograms(rec []byte, dst []RefHistogram) ([]RefHistogram, error) {
	return decodeHistRecord(rec, RecordHistograms, dst, func(d *decoder, i int, ref uint64, t int64) RefHistogram {
		h := &histogram.Histogram{}
		h.CounterResetHint, h.Schema, h.ZeroThreshold = d.histHead()
		h.ZeroCount = d.uvarint()
		h.Count = d.uvarint()
		h.Sum = d.float()
		h.PositiveSpans = d.spans()
		h.NegativeSpans = d.spans()
		h.PositiveBuckets = d.varints()
		h.NegativeBuckets = d.varints()
		h.CustomValues = d.floats()
		d.valid(h.Validate, "histogram", i)
		return RefHistogram{Ref: ref, T: t, H: h}
	})
}

// DecodeFloatHistograms decodes a float histogram record, appending to
// dst[:0], as DecodeHistograms does.
func DecodeFloatHistograms(rec []byte, dst []RefFloatHistogram) ([]RefFloatHistogram, error) {
	return decodeHistRecord(rec, RecordFloatHistograms, dst, func(d *decoder, i int, ref uint64, t int64) RefFloatHistogram {
		h := &histogram.FloatHistogram{}
		h.CounterResetHint, h.Schema, h.ZeroThreshold = d.histHead()
		h.ZeroCount = d.float()
		h.Count = d.float()
		h.Sum = d.float()
		h.PositiveSpans = d.spans()
		h.NegativeSpans = d.spans()
		h.PositiveBuckets = d.floats()
		h.NegativeBuckets = d.floats()
		h.CustomValues = d.floats()
		d.valid(h.Validate, "float histogram", i)
		return RefFloatHistogram{Ref: ref, T: t, FH: h}
	})
}

// decodeHistRecord is what both histogram records share: the header, each
// item's ref and time (the first absolute, the others deltas from it), the
// end. item decodes the rest of item i.
func decodeHistRecord[R any](rec []byte, typ RecordType, dst []R, item func(d *decoder, i int, ref uint64, t int64) R) ([]R, error) {
	dst = dst[:0]
	d := decoder{b: rec}
	n := d.header(typ, minHistItem)
	var ref0 uint64
	var t0 int64
	for i := 0; i < n && d.err == nil; i++ {
		ref, t := d.refT(i, &ref0, &t0)
		dst = append(dst, item(&d, i, ref, t))
	}
	if err := d.end(); err != nil {
		return dst[:0], err
	}
	return dst, nil
}

// valid fails the decoder if item i (a what) decoded without error but
// does not pass validate.
func (d *decoder) valid(validate func() error, what string, i int) {
	if d.err != nil {
		return
	}
	if err := validate(); err != nil {
		d.fail(fmt.Sprintf("%s %d: %v", what, i, err))
	}
}

func (d *decoder) refT(i int, ref0 *uint64, t0 *int64) (uint64, int64) {
	if i == 0 {
		*ref0, *t0 = d.uvarint(), d.varint()
		return *ref0, *t0
	}
	return *ref0 + uint64(d.varint()), *t0 + d.varint()
}

func (d *decoder) histHead() (histogram.CounterResetHint, int32, float64) {
	if len(d.b) == 0 {
		d.fail("histogram cut short")
		return 0, 0, 0
	}
	hint := histogram.CounterResetHint(d.b[0])
	d.b = d.b[1:]
	if hint > histogram.GaugeType {
		d.fail(fmt.Sprintf("counter reset hint %d", hint))
	}
	s := d.varint()
	if s < math.MinInt32 || s > math.MaxInt32 {
		d.fail(fmt.Sprintf("schema %d", s))
	}
	return hint, int32(s), d.float()
}

// count reads a length that must fit in the bytes left at size bytes per
// item (so a damaged count cannot make the decoder allocate much).
func (d *decoder) count(size int) int {
	k := d.uvarint()
	if d.err == nil && k > uint64(len(d.b)/size) {
		d.fail(fmt.Sprintf("%d items do not fit in %d bytes", k, len(d.b)))
		return 0
	}
	return int(k)
}

func (d *decoder) spans() []histogram.Span {
	k := d.count(2)
	if k == 0 {
		return nil
	}
	out := make([]histogram.Span, k)
	for i := range out {
		off, l := d.varint(), d.uvarint()
		if off < math.MinInt32 || off > math.MaxInt32 || l > math.MaxUint32 {
			d.fail("span out of range")
			return nil
		}
		out[i] = histogram.Span{Offset: int32(off), Length: uint32(l)}
	}
	return out
}

func (d *decoder) varints() []int64 {
	k := d.count(1)
	if k == 0 {
		return nil
	}
	out := make([]int64, k)
	for i := range out {
		out[i] = d.varint()
	}
	return out
}

func (d *decoder) floats() []float64 {
	k := d.count(8)
	if k == 0 {
		return nil
	}
	out := make([]float64, k)
	for i := range out {
		out[i] = d.float()
	}
	return out
}
