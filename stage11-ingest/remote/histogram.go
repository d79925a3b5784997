package remote

import (
	"math"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"google.golang.org/protobuf/encoding/protowire"
)

// Native histograms on the wire. Remote write 1.0 and 2.0 carry the same
// message (prompb.Histogram; 2.0 adds start_timestamp, skipped here):
//
//	Histogram  { oneof count { uint64 count_int = 1; double count_float = 2; }
//	             double sum = 3; sint32 schema = 4; double zero_threshold = 5;
//	             oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
//	             repeated BucketSpan negative_spans = 8; repeated sint64 negative_deltas = 9;
//	             repeated double negative_counts = 10;
//	             repeated BucketSpan positive_spans = 11; repeated sint64 positive_deltas = 12;
//	             repeated double positive_counts = 13;
//	             ResetHint reset_hint = 14; int64 timestamp = 15; repeated double custom_values = 16; }
//	BucketSpan { sint32 offset = 1; uint32 length = 2; }
//
// The integer form (count_int, deltas) is what client libraries export;
// the float form (count_float, absolute counts) is what recording rules
// and federation produce. Which one a message is follows from its count
// field; a message with neither is an integer histogram of count 0, as
// protobuf's defaults make it.
const (
	fieldHCountInt      = 1
	fieldHCountFloat    = 2
	fieldHSum           = 3
	fieldHSchema        = 4
	fieldHZeroThreshold = 5
	fieldHZeroInt       = 6
	fieldHZeroFloat     = 7
	fieldHNegSpans      = 8
	fieldHNegDeltas     = 9
	fieldHNegCounts     = 10
	fieldHPosSpans      = 11
	fieldHPosDeltas     = 12
	fieldHPosCounts     = 13
	fieldHResetHint     = 14
	fieldHTimestamp     = 15
	fieldHCustomValues  = 16

	fieldSpanOffset = 1
	fieldSpanLength = 2
)

// HistogramSample is one native histogram sample of a series: exactly one
// of H (integer counts) and FH (float counts) is set. Unlike the float
// samples, decoded histograms are allocated per sample and stay valid
// after the callback: a histogram is tens of numbers, and storage keeps it.
type HistogramSample struct {
	T  int64
	H  *histogram.Histogram
	FH *histogram.FloatHistogram
}

// DecodeHistogram decodes one Histogram message (remote write 1.0 or 2.0).
// The result is not validated: histogram.Validate is the caller's check,
// where it can name the series.
func DecodeHistogram(buf []byte) (HistogramSample, error) {
	var (
		hs                       HistogramSample
		isFloat                  bool
		countI, zeroI            uint64
		countF, zeroF, sum, zthr float64
		schema                   int32
		hint                     histogram.CounterResetHint
		negSpans, posSpans       []histogram.Span
		negD, posD               []int64
		negC, posC, custom       []float64
	)
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return hs, errorf("Histogram: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		var err error
		switch {
		case (num == fieldHCountInt || num == fieldHZeroInt || num == fieldHSchema || num == fieldHResetHint || num == fieldHTimestamp) && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(buf)
			if m < 0 {
				return hs, errorf("Histogram field %d: %v", num, protowire.ParseError(m))
			}
			buf = buf[m:]
			switch num {
			case fieldHCountInt:
				countI, isFloat = v, false
			case fieldHZeroInt:
				zeroI = v
			case fieldHSchema:
				schema = int32(protowire.DecodeZigZag(v & math.MaxUint32))
			case fieldHResetHint:
				if v > uint64(histogram.GaugeType) {
					return hs, errorf("Histogram reset_hint %d", v)
				}
				hint = histogram.CounterResetHint(v)
			case fieldHTimestamp:
				hs.T = int64(v)
			}
		case (num == fieldHCountFloat || num == fieldHSum || num == fieldHZeroThreshold || num == fieldHZeroFloat) && typ == protowire.Fixed64Type:
			v, m := protowire.ConsumeFixed64(buf)
			if m < 0 {
				return hs, errorf("Histogram field %d: %v", num, protowire.ParseError(m))
			}
			buf = buf[m:]
			f := math.Float64frombits(v)
			switch num {
			case fieldHCountFloat:
				countF, isFloat = f, true
			case fieldHSum:
				sum = f
			case fieldHZeroThreshold:
				zthr = f
			case fieldHZeroFloat:
				zeroF = f
			}
		case (num == fieldHNegSpans || num == fieldHPosSpans) && typ == protowire.BytesType:
			msg, m := protowire.ConsumeBytes(buf)
			if m < 0 {
				return hs, errorf("Histogram spans: %v", protowire.ParseError(m))
			}
			buf = buf[m:]
			sp, err := decodeSpan(msg)
			if err != nil {
				return hs, err
			}
			if num == fieldHNegSpans {
				negSpans = append(negSpans, sp)
			} else {
				posSpans = append(posSpans, sp)
			}
		case (num == fieldHNegDeltas || num == fieldHPosDeltas) && (typ == protowire.VarintType || typ == protowire.BytesType):
			dst := &posD
			if num == fieldHNegDeltas {
				dst = &negD
			}
			if buf, err = consumeSint64s(buf, typ, dst); err != nil {
				return hs, err
			}
		case (num == fieldHNegCounts || num == fieldHPosCounts || num == fieldHCustomValues) && (typ == protowire.Fixed64Type || typ == protowire.BytesType):
			dst := &posC
			switch num {
			case fieldHNegCounts:
				dst = &negC
			case fieldHCustomValues:
				dst = &custom
			}
			if buf, err = consumeDoubles(buf, typ, dst); err != nil {
				return hs, err
			}
		default:
			m := protowire.ConsumeFieldValue(num, typ, buf)
			if m < 0 {
				return hs, errorf("Histogram field %d: %v", num, protowire.ParseError(m))
			}
			buf = buf[m:]
		}
	}
	if isFloat {
		if len(negD) > 0 || len(posD) > 0 {
			return hs, errorf("Histogram: float count with integer bucket deltas")
		}
		hs.FH = &histogram.FloatHistogram{CounterResetHint: hint, Schema: schema, ZeroThreshold: zthr,
			ZeroCount: zeroF, Count: countF, Sum: sum, PositiveSpans: posSpans, NegativeSpans: negSpans,
			PositiveBuckets: posC, NegativeBuckets: negC, CustomValues: custom}
		return hs, nil
	}
	if len(negC) > 0 || len(posC) > 0 {
		return hs, errorf("Histogram: integer count with float bucket counts")
	}
	hs.H = &histogram.Histogram{CounterResetHint: hint, Schema: schema, ZeroThreshold: zthr,
		ZeroCount: zeroI, Count: countI, Sum: sum, PositiveSpans: posSpans, NegativeSpans: negSpans,
		PositiveBuckets: posD, NegativeBuckets: negD, CustomValues: custom}
	return hs, nil
}

func decodeSpan(buf []byte) (histogram.Span, error) {
	var sp histogram.Span
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return sp, errorf("BucketSpan: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		if (num == fieldSpanOffset || num == fieldSpanLength) && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(buf)
			if m < 0 {
				return sp, errorf("BucketSpan field %d: %v", num, protowire.ParseError(m))
			}
			buf = buf[m:]
			if num == fieldSpanOffset {
				sp.Offset = int32(protowire.DecodeZigZag(v & math.MaxUint32))
			} else {
				sp.Length = uint32(v)
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, buf)
		if m < 0 {
			return sp, errorf("BucketSpan field %d: %v", num, protowire.ParseError(m))
		}
		buf = buf[m:]
	}
	return sp, nil
}

// consumeSint64s reads a repeated sint64 field, packed (typ BytesType,
// proto3's default) or one value (VarintType), as protobuf requires a
// decoder to accept. Another wire type is an unknown field, for the caller
// to skip.
func consumeSint64s(buf []byte, typ protowire.Type, dst *[]int64) ([]byte, error) {
	if typ == protowire.VarintType {
		v, n := protowire.ConsumeVarint(buf)
		if n < 0 {
			return nil, errorf("Histogram deltas: %v", protowire.ParseError(n))
		}
		*dst = append(*dst, protowire.DecodeZigZag(v))
		return buf[n:], nil
	}
	packed, n := protowire.ConsumeBytes(buf)
	if n < 0 {
		return nil, errorf("Histogram deltas: %v", protowire.ParseError(n))
	}
	for len(packed) > 0 {
		v, m := protowire.ConsumeVarint(packed)
		if m < 0 {
			return nil, errorf("Histogram deltas: %v", protowire.ParseError(m))
		}
		*dst = append(*dst, protowire.DecodeZigZag(v))
		packed = packed[m:]
	}
	return buf[n:], nil
}

// consumeDoubles reads a repeated double field, packed (BytesType) or one
// value (Fixed64Type).
func consumeDoubles(buf []byte, typ protowire.Type, dst *[]float64) ([]byte, error) {
	if typ == protowire.Fixed64Type {
		v, n := protowire.ConsumeFixed64(buf)
		if n < 0 {
			return nil, errorf("Histogram counts: %v", protowire.ParseError(n))
		}
		*dst = append(*dst, math.Float64frombits(v))
		return buf[n:], nil
	}
	packed, n := protowire.ConsumeBytes(buf)
	if n < 0 {
		return nil, errorf("Histogram counts: %v", protowire.ParseError(n))
	}
	if len(packed)%8 != 0 {
		return nil, errorf("Histogram counts: packed length %d is not a multiple of 8", len(packed))
	}
	for ; len(packed) > 0; packed = packed[8:] {
		v, _ := protowire.ConsumeFixed64(packed)
		*dst = append(*dst, math.Float64frombits(v))
	}
	return buf[n:], nil
}

// AppendHistogram appends the encoding of one Histogram message (its
// fields, without a tag and length of its own) to dst. Exactly one of hs.H
// and hs.FH must be set.
func AppendHistogram(dst []byte, hs HistogramSample) []byte {
	var (
		schema             int32
		sum, zthr          float64
		hint               histogram.CounterResetHint
		negSpans, posSpans []histogram.Span
		custom             []float64
	)
	if h := hs.H; h != nil {
		schema, sum, zthr, hint, negSpans, posSpans, custom = h.Schema, h.Sum, h.ZeroThreshold, h.CounterResetHint, h.NegativeSpans, h.PositiveSpans, h.CustomValues
		dst = protowire.AppendTag(dst, fieldHCountInt, protowire.VarintType)
		dst = protowire.AppendVarint(dst, h.Count)
	} else {
		h := hs.FH
		schema, sum, zthr, hint, negSpans, posSpans, custom = h.Schema, h.Sum, h.ZeroThreshold, h.CounterResetHint, h.NegativeSpans, h.PositiveSpans, h.CustomValues
		dst = protowire.AppendTag(dst, fieldHCountFloat, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(h.Count))
	}
	dst = appendDouble(dst, fieldHSum, sum)
	dst = protowire.AppendTag(dst, fieldHSchema, protowire.VarintType)
	dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(int64(schema)))
	dst = appendDouble(dst, fieldHZeroThreshold, zthr)
	if h := hs.H; h != nil {
		dst = protowire.AppendTag(dst, fieldHZeroInt, protowire.VarintType)
		dst = protowire.AppendVarint(dst, h.ZeroCount)
	} else {
		dst = appendDouble(dst, fieldHZeroFloat, hs.FH.ZeroCount)
	}
	dst = appendSpans(dst, fieldHNegSpans, negSpans)
	if h := hs.H; h != nil {
		dst = appendSint64s(dst, fieldHNegDeltas, h.NegativeBuckets)
	} else {
		dst = appendDoubles(dst, fieldHNegCounts, hs.FH.NegativeBuckets)
	}
	dst = appendSpans(dst, fieldHPosSpans, posSpans)
	if h := hs.H; h != nil {
		dst = appendSint64s(dst, fieldHPosDeltas, h.PositiveBuckets)
	} else {
		dst = appendDoubles(dst, fieldHPosCounts, hs.FH.PositiveBuckets)
	}
	if hint != 0 {
		dst = protowire.AppendTag(dst, fieldHResetHint, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(hint))
	}
	dst = protowire.AppendTag(dst, fieldHTimestamp, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(hs.T))
	return appendDoubles(dst, fieldHCustomValues, custom)
}

func appendDouble(dst []byte, num protowire.Number, v float64) []byte {
	dst = protowire.AppendTag(dst, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(dst, math.Float64bits(v))
}

func appendSpans(dst []byte, num protowire.Number, spans []histogram.Span) []byte {
	for _, sp := range spans {
		var b [16]byte
		m := protowire.AppendTag(b[:0], fieldSpanOffset, protowire.VarintType)
		m = protowire.AppendVarint(m, protowire.EncodeZigZag(int64(sp.Offset)))
		m = protowire.AppendTag(m, fieldSpanLength, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(sp.Length))
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m)
	}
	return dst
}

func appendSint64s(dst []byte, num protowire.Number, vs []int64) []byte {
	if len(vs) == 0 {
		return dst
	}
	n := 0
	for _, v := range vs {
		n += protowire.SizeVarint(protowire.EncodeZigZag(v))
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(n))
	for _, v := range vs {
		dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(v))
	}
	return dst
}

func appendDoubles(dst []byte, num protowire.Number, vs []float64) []byte {
	if len(vs) == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(8*len(vs)))
	for _, v := range vs {
		dst = protowire.AppendFixed64(dst, math.Float64bits(v))
	}
	return dst
}
