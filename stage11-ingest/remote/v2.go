package remote

import (
	"math"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"google.golang.org/protobuf/encoding/protowire"
)

// Remote write 2.0 (io.prometheus.write.v2.Request), field numbers only:
//
//	Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
//	TimeSeries { repeated uint32 labels_refs = 1;   // packed: name, value, name, value … (symbol indices)
//	             repeated Sample samples = 2; repeated Histogram histograms = 3;
//	             repeated Exemplar exemplars = 4; Metadata metadata = 5; }
//	Sample     { double value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
//	Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
//
// Every string is sent once, in the symbols table, whose first entry is
// the empty string; series refer to them by index. A series' labels are
// resolved against the table into a Pairs key (ingest.Pairs), since the
// indices mean nothing outside their request.
const (
	fieldV2Symbols    = 4
	fieldV2TimeSeries = 5

	fieldV2LabelsRefs = 1
	fieldV2Samples    = 2
	fieldV2Histograms = 3
	fieldV2Exemplars  = 4
	fieldV2Metadata   = 5

	fieldV2MetaType = 1
	fieldV2MetaHelp = 3
	fieldV2MetaUnit = 4
)

// ContentTypeV1 and ContentTypeV2 are the Content-Type values of the two
// remote-write messages.
const (
	ContentTypeV1 = "application/x-protobuf;proto=prometheus.WriteRequest"
	ContentTypeV2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
)

// DecodeV2 walks a remote write 2.0 Request like Decode: fn gets each
// series (Key is a Pairs key; Labels alias the request), meta (if not nil)
// each series' metadata, with Family set to the metric name. Stats counts
// the samples and histograms decoded, and the exemplars, which are skipped.
func (d *Decoder) DecodeV2(buf []byte, fn func(*TimeSeries) error, meta func(Metadata)) (Stats, error) {
	var st Stats
	// The symbols first: a valid message may put them after the series.
	d.symbols = d.symbols[:0]
	for rest := buf; len(rest) > 0; {
		num, typ, n := ConsumeTag(rest)
		if n < 0 {
			return st, errorf("Request: %v", protowire.ParseError(n))
		}
		rest = rest[n:]
		if num == fieldV2Symbols && typ == protowire.BytesType {
			s, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return st, errorf("Request symbols: %v", protowire.ParseError(n))
			}
			d.symbols = append(d.symbols, s)
			rest = rest[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, rest)
		if n < 0 {
			return st, errorf("Request field %d: %v", num, protowire.ParseError(n))
		}
		rest = rest[n:]
	}
	if len(d.symbols) > 0 && len(d.symbols[0]) != 0 {
		return st, errorf("Request: the first symbol must be the empty string")
	}
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf) // checked above
		buf = buf[n:]
		if num == fieldV2TimeSeries && typ == protowire.BytesType {
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return st, errorf("Request timeseries: %v", protowire.ParseError(n))
			}
			buf = buf[n:]
			m, err := d.decodeSeriesV2(msg, &st)
			if err != nil {
				return st, err
			}
			if meta != nil && m.Type != "" {
				m.Family = string(labelValue(d.ts.Labels, model.MetricName))
				meta(m)
			}
			st.Samples += len(d.ts.Samples)
			if err := fn(&d.ts); err != nil {
				return st, err
			}
			continue
		}
		buf = buf[protowire.ConsumeFieldValue(num, typ, buf):]
	}
	return st, nil
}

func labelValue(ls []Label, name string) []byte {
	for _, l := range ls {
		if string(l.Name) == name {
			return l.Value
		}
	}
	return nil
}

func (d *Decoder) symbol(ref uint64) ([]byte, error) {
	if ref >= uint64(len(d.symbols)) {
		return nil, errorf("symbol reference %d outside the table of %d", ref, len(d.symbols))
	}
	return d.symbols[ref], nil
}

func (d *Decoder) decodeSeriesV2(buf []byte, st *Stats) (Metadata, error) {
	var meta Metadata
	d.ts.Labels = d.ts.Labels[:0]
	d.ts.Samples = d.ts.Samples[:0]
	clear(d.ts.Histograms)
	d.ts.Histograms = d.ts.Histograms[:0]
	d.refs = d.refs[:0]
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return meta, errorf("TimeSeries: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		switch {
		case num == fieldV2LabelsRefs && typ == protowire.BytesType: // packed
			packed, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return meta, errorf("TimeSeries labels_refs: %v", protowire.ParseError(n))
			}
			buf = buf[n:]
			for len(packed) > 0 {
				v, k := protowire.ConsumeVarint(packed)
				if k < 0 {
					return meta, errorf("TimeSeries labels_refs: %v", protowire.ParseError(k))
				}
				d.refs = append(d.refs, v)
				packed = packed[k:]
			}
		case num == fieldV2LabelsRefs && typ == protowire.VarintType: // unpacked, also legal
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return meta, errorf("TimeSeries labels_refs: %v", protowire.ParseError(n))
			}
			d.refs = append(d.refs, v)
			buf = buf[n:]
		case num == fieldV2Samples && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return meta, errorf("TimeSeries samples: %v", protowire.ParseError(n))
			}
			buf = buf[n:]
			s, err := decodeSample(msg)
			if err != nil {
				return meta, err
			}
			d.ts.Samples = append(d.ts.Samples, s)
		case num == fieldV2Histograms && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return meta, errorf("TimeSeries histograms: %v", protowire.ParseError(n))
			}
			buf = buf[n:]
			hs, err := DecodeHistogram(msg)
			if err != nil {
				return meta, err
			}
			d.ts.Histograms = append(d.ts.Histograms, hs)
			st.Histograms++
		case num == fieldV2Metadata && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return meta, errorf("TimeSeries metadata: %v", protowire.ParseError(n))
			}
			buf = buf[n:]
			var err error
			if meta, err = d.decodeMetadataV2(msg); err != nil {
				return meta, err
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return meta, errorf("TimeSeries field %d: %v", num, protowire.ParseError(n))
			}
			if num == fieldV2Exemplars && typ == protowire.BytesType {
				msg, _ := protowire.ConsumeBytes(buf)
				if err := checkExemplar(msg, true); err != nil {
					return meta, err
				}
				st.Exemplars++
			}
			buf = buf[n:]
		}
	}
	if len(d.refs)%2 != 0 {
		return meta, errorf("TimeSeries: %d label references, want name/value pairs", len(d.refs))
	}
	d.key = d.key[:0]
	for i := 0; i < len(d.refs); i += 2 {
		name, err := d.symbol(d.refs[i])
		if err != nil {
			return meta, err
		}
		value, err := d.symbol(d.refs[i+1])
		if err != nil {
			return meta, err
		}
		d.ts.Labels = append(d.ts.Labels, Label{Name: name, Value: value})
		d.key = ingest.AppendPair(d.key, name, value)
	}
	d.ts.Key = d.key
	return meta, nil
}

func (d *Decoder) decodeMetadataV2(buf []byte) (Metadata, error) {
	var m Metadata
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return m, errorf("Metadata: %v", protowire.ParseError(n))
		}
		buf = buf[n:]
		if typ != protowire.VarintType {
			n = protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return m, errorf("Metadata field %d: %v", num, protowire.ParseError(n))
			}
			buf = buf[n:]
			continue
		}
		v, n := protowire.ConsumeVarint(buf)
		if n < 0 {
			return m, errorf("Metadata field %d: %v", num, protowire.ParseError(n))
		}
		buf = buf[n:]
		switch num {
		case fieldV2MetaType:
			m.Type = "unknown"
			if v < uint64(len(MetricTypes)) {
				m.Type = MetricTypes[v]
			}
		case fieldV2MetaHelp, fieldV2MetaUnit:
			s, err := d.symbol(v)
			if err != nil {
				return m, err
			}
			if num == fieldV2MetaHelp {
				m.Help = string(s)
			} else {
				m.Unit = string(s)
			}
		}
	}
	if m.Type == "" && (m.Help != "" || m.Unit != "") {
		m.Type = "unknown"
	}
	return m, nil
}

// SeriesV2 is one series to encode as remote write 2.0.
type SeriesV2 struct {
	Labels  model.Labels
	Samples []model.Sample
	Type    int // Metadata.MetricType: 0 none, 1 counter, 2 gauge …
	Help    string
}

// AppendRequestV2 appends a remote write 2.0 Request holding series to
// dst, building its symbols table (for clients and the cluster's nodes).
func AppendRequestV2(dst []byte, series []SeriesV2) []byte {
	index := map[string]uint64{"": 0}
	symbols := []string{""}
	sym := func(s string) uint64 {
		i, ok := index[s]
		if !ok {
			i = uint64(len(symbols))
			index[s] = i
			symbols = append(symbols, s)
		}
		return i
	}
	var body, ts, refs, tmp []byte
	for i := range series {
		s := &series[i]
		ts, refs = ts[:0], refs[:0]
		for l := range s.Labels.All() {
			refs = protowire.AppendVarint(refs, sym(l.Name))
			refs = protowire.AppendVarint(refs, sym(l.Value))
		}
		ts = protowire.AppendTag(ts, fieldV2LabelsRefs, protowire.BytesType)
		ts = protowire.AppendBytes(ts, refs)
		for _, p := range s.Samples {
			tmp = protowire.AppendTag(tmp[:0], fieldSampleValue, protowire.Fixed64Type)
			tmp = protowire.AppendFixed64(tmp, math.Float64bits(p.V))
			tmp = protowire.AppendTag(tmp, fieldSampleTime, protowire.VarintType)
			tmp = protowire.AppendVarint(tmp, uint64(p.T))
			ts = protowire.AppendTag(ts, fieldV2Samples, protowire.BytesType)
			ts = protowire.AppendBytes(ts, tmp)
		}
		if s.Type != 0 || s.Help != "" {
			tmp = protowire.AppendTag(tmp[:0], fieldV2MetaType, protowire.VarintType)
			tmp = protowire.AppendVarint(tmp, uint64(s.Type))
			tmp = protowire.AppendTag(tmp, fieldV2MetaHelp, protowire.VarintType)
			tmp = protowire.AppendVarint(tmp, sym(s.Help))
			ts = protowire.AppendTag(ts, fieldV2Metadata, protowire.BytesType)
			ts = protowire.AppendBytes(ts, tmp)
		}
		body = protowire.AppendTag(body, fieldV2TimeSeries, protowire.BytesType)
		body = protowire.AppendBytes(body, ts)
	}
	for _, s := range symbols {
		dst = protowire.AppendTag(dst, fieldV2Symbols, protowire.BytesType)
		dst = protowire.AppendString(dst, s)
	}
	return append(dst, body...)
}
