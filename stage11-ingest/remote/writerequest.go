package remote

import (
	"fmt"
	"math"

	"github.com/klauspost/compress/snappy"
	"github.com/tsdb-course/stage01-memstore/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// The remote write 1.0 schema (prometheus/prompb), field numbers only:
//
//	WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//	TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
//	                 repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//	Label          { string name = 1; string value = 2; }
//	Sample         { double value = 1; int64 timestamp = 2; }   // timestamp in ms
//	MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
//
// Unknown fields are skipped, as protobuf requires; exemplars are skipped
// too (counted in Stats). Native histograms: histogram.go.
const (
	fieldTimeSeries = 1
	fieldMetadata   = 3

	fieldLabels     = 1
	fieldSamples    = 2
	fieldExemplars  = 3
	fieldHistograms = 4

	fieldName  = 1
	fieldValue = 2

	fieldSampleValue = 1
	fieldSampleTime  = 2

	fieldMetaType   = 1
	fieldMetaFamily = 2
	fieldMetaHelp   = 4
	fieldMetaUnit   = 5
)

// Stats counts what a request held: the samples and native histograms
// decoded, and the exemplars, which are skipped.
type Stats struct {
	Samples, Exemplars, Histograms int
}

// Decompress undoes remote write's snappy block framing into dst (reused if
// large enough), refusing bodies that would decompress to more than limit
// bytes before allocating for them.
func Decompress(dst, src []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, errorf("snappy: %v", err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: %d bytes decompressed, limit %d", ErrTooLarge, n, limit)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := snappy.Decode(dst[:cap(dst)], src)
	if err != nil {
		return nil, errorf("snappy: %v", err)
	}
	return out, nil
}

// Decoder decodes WriteRequests, reusing its buffers from one request to
// the next. A Decoder is for one goroutine.
type Decoder struct {
	ts      TimeSeries
	key     []byte
	symbols [][]byte // remote write 2.0's symbols table
	refs    []uint64
}

// Each message type has a loop of its own over its fields. One shared
// "next field" function would remove the repetition, but it is a call per
// field, about twenty per series: BenchmarkDecode measured it 40-60 %
// slower (a 2,000-series request 0.48 -> 0.70 ms), on the ingestion path.

// Decode walks a WriteRequest: fn gets each series (stopping at its first
// error, which Decode returns), meta (if not nil) each metadata entry
// (read and checked either way).
// A malformed message is an error wrapping ErrInvalid; series before the
// damage have already been handed to fn.
func (d *Decoder) Decode(buf []byte, fn func(*TimeSeries) error, meta func(Metadata)) (Stats, error) {
	return d.decode(buf, fn, meta, "WriteRequest")
}

// decode walks a WriteRequest, or a QueryResult (what "QueryResult"):
// the same series in field 1, and no metadata, its field 3 unknown.
func (d *Decoder) decode(buf []byte, fn func(*TimeSeries) error, meta func(Metadata), what string) (Stats, error) {
	var st Stats
	hasMeta := what == "WriteRequest"
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return st, errorf("%s: %v", what, protowire.ParseError(n))
		}
		buf = buf[n:]
		if (num == fieldTimeSeries || (num == fieldMetadata && hasMeta)) && typ == protowire.BytesType {
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return st, errorf("%s field %d: %v", what, num, protowire.ParseError(n))
			}
			buf = buf[n:]
			if num == fieldMetadata {
				// Read even if not wanted: a request proto.Unmarshal
				// refuses is refused whole.
				m, err := decodeMetadata(msg, meta != nil)
				if err != nil {
					return st, err
				}
				if meta != nil {
					meta(m)
				}
				continue
			}
			if err := d.decodeSeries(msg, &st); err != nil {
				return st, err
			}
			st.Samples += len(d.ts.Samples)
			if err := fn(&d.ts); err != nil {
				return st, err
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return st, errorf("%s field %d: %v", what, num, protowire.ParseError(n))
		}
		buf = buf[n:]
	}
	return st, nil
}

func (d *Decoder) decodeSeries(buf []byte, st *Stats) error {
	d.ts.Labels = d.ts.Labels[:0]
	d.ts.Samples = d.ts.Samples[:0]
	clear(d.ts.Histograms)
	d.ts.Histograms = d.ts.Histograms[:0]
	d.key = d.key[:0]
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return errorf("TimeSeries: %v", protowire.ParseError(n))
		}
		field := buf
		buf = buf[n:]
		if typ != protowire.BytesType || num < fieldLabels || num > fieldHistograms {
			n = protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return errorf("TimeSeries field %d: %v", num, protowire.ParseError(n))
			}
			buf = buf[n:]
			continue
		}
		msg, m := protowire.ConsumeBytes(buf)
		if m < 0 {
			return errorf("TimeSeries field %d: %v", num, protowire.ParseError(m))
		}
		buf = buf[m:]
		switch num {
		case fieldLabels:
			l, err := decodeLabel(msg)
			if err != nil {
				return err
			}
			d.ts.Labels = append(d.ts.Labels, l)
			d.key = append(d.key, field[:n+m]...)
		case fieldSamples:
			s, err := decodeSample(msg)
			if err != nil {
				return err
			}
			d.ts.Samples = append(d.ts.Samples, s)
		case fieldExemplars:
			if err := checkExemplar(msg, false); err != nil {
				return err
			}
			st.Exemplars++
		case fieldHistograms:
			hs, err := DecodeHistogram(msg)
			if err != nil {
				return err
			}
			d.ts.Histograms = append(d.ts.Histograms, hs)
			st.Histograms++
		}
	}
	d.ts.Key = d.key
	return nil
}

func decodeLabel(buf []byte) (Label, error) {
	var l Label
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return l, errorf("Label: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		if (num == fieldName || num == fieldValue) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return l, errorf("Label field %d: %v", num, protowire.ParseError(n))
			}
			buf = buf[n:]
			if num == fieldName {
				l.Name = v
			} else {
				l.Value = v
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return l, errorf("Label field %d: %v", num, protowire.ParseError(n))
		}
		buf = buf[n:]
	}
	return l, nil
}

func decodeSample(buf []byte) (model.Sample, error) {
	var s model.Sample
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return s, errorf("Sample: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		switch {
		case num == fieldSampleValue && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(buf)
			if n < 0 {
				return s, errorf("Sample value: %v", protowire.ParseError(n))
			}
			s.V = math.Float64frombits(v)
			buf = buf[n:]
		case num == fieldSampleTime && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return s, errorf("Sample timestamp: %v", protowire.ParseError(n))
			}
			s.T = int64(v)
			buf = buf[n:]
		default:
			n = protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return s, errorf("Sample field %d: %v", num, protowire.ParseError(n))
			}
			buf = buf[n:]
		}
	}
	return s, nil
}

// checkExemplar walks an Exemplar, which is not kept, so that a damaged
// one is refused as proto.Unmarshal refuses it:
//
//	Exemplar (1.0) { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
//	Exemplar (2.0) { repeated uint32 labels_refs = 1; double value = 2; int64 timestamp = 3; }
func checkExemplar(buf []byte, v2 bool) error {
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return errorf("Exemplar: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return errorf("Exemplar field %d: %v", num, protowire.ParseError(n))
		}
		if num == 1 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(buf)
			if !v2 {
				if _, err := decodeLabel(v); err != nil {
					return err
				}
			}
			for v2 && len(v) > 0 { // packed label references
				_, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return errorf("Exemplar labels_refs: %v", protowire.ParseError(k))
				}
				v = v[k:]
			}
		}
		buf = buf[n:]
	}
	return nil
}

// decodeMetadata reads a MetricMetadata; without keep, it only checks it.
func decodeMetadata(buf []byte, keep bool) (Metadata, error) {
	var m Metadata
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return m, errorf("MetricMetadata: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		switch {
		case num == fieldMetaType && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return m, errorf("MetricMetadata type: %v", protowire.ParseError(n))
			}
			m.Type = "unknown"
			if v < uint64(len(MetricTypes)) {
				m.Type = MetricTypes[v]
			}
			buf = buf[n:]
		case (num == fieldMetaFamily || num == fieldMetaHelp || num == fieldMetaUnit) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return m, errorf("MetricMetadata field %d: %v", num, protowire.ParseError(n))
			}
			buf = buf[n:]
			if !keep {
				continue
			}
			switch num {
			case fieldMetaFamily:
				m.Family = string(v)
			case fieldMetaHelp:
				m.Help = string(v)
			default:
				m.Unit = string(v)
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return m, errorf("MetricMetadata field %d: %v", num, protowire.ParseError(n))
			}
			buf = buf[n:]
		}
	}
	if m.Type == "" {
		m.Type = "unknown"
	}
	return m, nil
}

func errorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}
