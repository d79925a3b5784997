package remote

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/tsdb-course/stage01-memstore/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// Remote read (prometheus/prompb remote.proto and types.proto), field
// numbers only:
//
//	ReadRequest         { repeated Query queries = 1; repeated ResponseType accepted_response_types = 2; }
//	Query               { int64 start_timestamp_ms = 1; int64 end_timestamp_ms = 2;
//	                      repeated LabelMatcher matchers = 3; ReadHints hints = 4; }
//	LabelMatcher        { Type type = 1; string name = 2; string value = 3; }   // EQ NEQ RE NRE
//	ReadHints           { int64 step_ms = 1; string func = 2; int64 start_ms = 3; int64 end_ms = 4;
//	                      repeated string grouping = 5; bool by = 6; int64 range_ms = 7; }
//	ReadResponse        { repeated QueryResult results = 1; }                  // SAMPLES
//	QueryResult         { repeated TimeSeries timeseries = 1; }                // as in remote write
//	ChunkedReadResponse { repeated ChunkedSeries chunked_series = 1; int64 query_index = 2; }
//	ChunkedSeries       { repeated Label labels = 1; repeated Chunk chunks = 2; }
//	Chunk               { int64 min_time_ms = 1; int64 max_time_ms = 2; Encoding type = 3; bytes data = 4; }
//
// The sampled answer is one snappy-compressed ReadResponse. The streamed
// answer (STREAMED_XOR_CHUNKS) is a sequence of frames, each one
// ChunkedReadResponse, uncompressed:
//
//	uvarint  length of the message
//	4 bytes  CRC-32 (Castagnoli) of the message, big-endian
//	bytes    the message
const (
	fieldReadQueries  = 1
	fieldReadAccepted = 2

	fieldQueryStart    = 1
	fieldQueryEnd      = 2
	fieldQueryMatchers = 3
	fieldQueryHints    = 4

	fieldMatcherType  = 1
	fieldMatcherName  = 2
	fieldMatcherValue = 3

	fieldResults       = 1
	fieldResultSeries  = 1
	fieldChunkedSeries = 1
	fieldChunkedQuery  = 2
	fieldChunkedLabels = 1
	fieldChunkedChunks = 2
	fieldChunkMinT     = 1
	fieldChunkMaxT     = 2
	fieldChunkType     = 3
	fieldChunkData     = 4
	fieldHintsStep     = 1
	fieldHintsFunc     = 2
	fieldHintsStart    = 3
	fieldHintsEnd      = 4
	fieldHintsGrouping = 5
	fieldHintsBy       = 6
	fieldHintsRange    = 7
)

// Content types of remote read.
const (
	ContentTypeReadRequest = "application/x-protobuf"
	ContentTypeStreamed    = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
)

// ResponseType is a kind of read answer a client accepts.
type ResponseType int32

const (
	ResponseSamples           ResponseType = 0
	ResponseStreamedXORChunks ResponseType = 1
)

// MatchType is LabelMatcher.Type.
type MatchType int32

const (
	MatchEqual MatchType = iota
	MatchNotEqual
	MatchRegexp
	MatchNotRegexp
)

func (t MatchType) String() string {
	switch t {
	case MatchEqual:
		return "="
	case MatchNotEqual:
		return "!="
	case MatchRegexp:
		return "=~"
	case MatchNotRegexp:
		return "!~"
	}
	return fmt.Sprintf("MatchType(%d)", int32(t))
}

// Matcher is one label matcher of a query.
type Matcher struct {
	Type        MatchType
	Name, Value string
}

// Hints are the query's hints (all optional).
type Hints struct {
	StepMs, StartMs, EndMs, RangeMs int64
	Func                            string
	Grouping                        []string
	By                              bool
}

// Query is one query of a ReadRequest: a time range (ms, inclusive) and
// matchers.
type Query struct {
	StartMs, EndMs int64
	Matchers       []Matcher
	Hints          *Hints
}

// ReadRequest is a remote-read request.
type ReadRequest struct {
	Queries  []Query
	Accepted []ResponseType // in the client's order of preference; empty: samples only
}

// Streamed reports whether the client accepts STREAMED_XOR_CHUNKS.
func (r *ReadRequest) Streamed() bool {
	for _, t := range r.Accepted {
		if t == ResponseStreamedXORChunks {
			return true
		}
	}
	return false
}

// AppendReadRequest encodes r (uncompressed; Compress for the wire).
func AppendReadRequest(dst []byte, r *ReadRequest) []byte {
	for _, q := range r.Queries {
		var b []byte
		b = appendVarintField(b, fieldQueryStart, uint64(q.StartMs))
		b = appendVarintField(b, fieldQueryEnd, uint64(q.EndMs))
		for _, m := range q.Matchers {
			var mb []byte
			mb = appendVarintField(mb, fieldMatcherType, uint64(m.Type))
			mb = appendStringField(mb, fieldMatcherName, m.Name)
			mb = appendStringField(mb, fieldMatcherValue, m.Value)
			b = protowire.AppendTag(b, fieldQueryMatchers, protowire.BytesType)
			b = protowire.AppendBytes(b, mb)
		}
		if h := q.Hints; h != nil {
			var hb []byte
			hb = appendVarintField(hb, fieldHintsStep, uint64(h.StepMs))
			hb = appendStringField(hb, fieldHintsFunc, h.Func)
			hb = appendVarintField(hb, fieldHintsStart, uint64(h.StartMs))
			hb = appendVarintField(hb, fieldHintsEnd, uint64(h.EndMs))
			for _, g := range h.Grouping {
				hb = appendStringField(hb, fieldHintsGrouping, g)
			}
			if h.By {
				hb = appendVarintField(hb, fieldHintsBy, 1)
			}
			hb = appendVarintField(hb, fieldHintsRange, uint64(h.RangeMs))
			b = protowire.AppendTag(b, fieldQueryHints, protowire.BytesType)
			b = protowire.AppendBytes(b, hb)
		}
		dst = protowire.AppendTag(dst, fieldReadQueries, protowire.BytesType)
		dst = protowire.AppendBytes(dst, b)
	}
	if len(r.Accepted) > 0 {
		var packed []byte
		for _, t := range r.Accepted {
			packed = protowire.AppendVarint(packed, uint64(t))
		}
		dst = protowire.AppendTag(dst, fieldReadAccepted, protowire.BytesType)
		dst = protowire.AppendBytes(dst, packed)
	}
	return dst
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b // proto3: zero is not written
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// fields walks a message, calling fn with each field's number, type and
// its value: the varint, or the bytes of a length-delimited field.
// Other wire types are skipped.
func fields(buf []byte, what string, fn func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error) error {
	for len(buf) > 0 {
		num, typ, n := ConsumeTag(buf)
		if n < 0 {
			return errorf("%s: %v", what, protowire.ParseError(n))
		}
		buf = buf[n:]
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(buf)
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(buf)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(buf)
		default:
			n = protowire.ConsumeFieldValue(num, typ, buf)
		}
		if n < 0 {
			return errorf("%s field %d: %v", what, num, protowire.ParseError(n))
		}
		buf = buf[n:]
		if err := fn(num, typ, v, b); err != nil {
			return err
		}
	}
	return nil
}

// DecodeReadRequest decodes a (decompressed) ReadRequest.
func DecodeReadRequest(buf []byte) (ReadRequest, error) {
	var r ReadRequest
	err := fields(buf, "ReadRequest", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case num == fieldReadQueries && typ == protowire.BytesType:
			q, err := decodeQuery(b)
			if err != nil {
				return err
			}
			r.Queries = append(r.Queries, q)
		case num == fieldReadAccepted && typ == protowire.VarintType:
			r.Accepted = append(r.Accepted, ResponseType(v))
		case num == fieldReadAccepted && typ == protowire.BytesType: // packed
			for len(b) > 0 {
				x, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return errorf("ReadRequest accepted_response_types: %v", protowire.ParseError(n))
				}
				r.Accepted = append(r.Accepted, ResponseType(x))
				b = b[n:]
			}
		}
		return nil
	})
	return r, err
}

func decodeQuery(buf []byte) (Query, error) {
	var q Query
	err := fields(buf, "Query", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case num == fieldQueryStart && typ == protowire.VarintType:
			q.StartMs = int64(v)
		case num == fieldQueryEnd && typ == protowire.VarintType:
			q.EndMs = int64(v)
		case num == fieldQueryMatchers && typ == protowire.BytesType:
			var m Matcher
			err := fields(b, "LabelMatcher", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
				switch {
				case num == fieldMatcherType && typ == protowire.VarintType:
					if v > uint64(MatchNotRegexp) {
						return errorf("LabelMatcher: unknown type %d", v)
					}
					m.Type = MatchType(v)
				case num == fieldMatcherName && typ == protowire.BytesType:
					m.Name = string(b)
				case num == fieldMatcherValue && typ == protowire.BytesType:
					m.Value = string(b)
				}
				return nil
			})
			if err != nil {
				return err
			}
			q.Matchers = append(q.Matchers, m)
		case num == fieldQueryHints && typ == protowire.BytesType:
			h := &Hints{}
			err := fields(b, "ReadHints", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
				switch {
				case num == fieldHintsStep && typ == protowire.VarintType:
					h.StepMs = int64(v)
				case num == fieldHintsFunc && typ == protowire.BytesType:
					h.Func = string(b)
				case num == fieldHintsStart && typ == protowire.VarintType:
					h.StartMs = int64(v)
				case num == fieldHintsEnd && typ == protowire.VarintType:
					h.EndMs = int64(v)
				case num == fieldHintsGrouping && typ == protowire.BytesType:
					h.Grouping = append(h.Grouping, string(b))
				case num == fieldHintsBy && typ == protowire.VarintType:
					h.By = v != 0
				case num == fieldHintsRange && typ == protowire.VarintType:
					h.RangeMs = int64(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			q.Hints = h
		}
		return nil
	})
	return q, err
}

// QueryResult is the sampled answer to one query.
type QueryResult struct {
	Series []Series
}

// AppendReadResponse encodes a sampled ReadResponse, one result per query
// in the request's order (uncompressed; Compress for the wire).
func AppendReadResponse(dst []byte, results []QueryResult) []byte {
	for _, r := range results {
		body := AppendWriteRequest(nil, r.Series) // TimeSeries are field 1 of both messages
		dst = protowire.AppendTag(dst, fieldResults, protowire.BytesType)
		dst = protowire.AppendBytes(dst, body)
	}
	return dst
}

// DecodeReadResponse decodes a (decompressed) sampled ReadResponse, native
// histograms included.
func DecodeReadResponse(buf []byte) ([]QueryResult, error) {
	var out []QueryResult
	var d Decoder
	err := fields(buf, "ReadResponse", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		if num != fieldResults || typ != protowire.BytesType {
			return nil
		}
		var qr QueryResult
		_, err := d.decode(b, func(ts *TimeSeries) error {
			lset, err := ts.ModelLabels()
			if err != nil {
				return err
			}
			qr.Series = append(qr.Series, Series{Labels: lset, Samples: append([]model.Sample(nil), ts.Samples...),
				Histograms: append([]HistogramSample(nil), ts.Histograms...)})
			return nil
		}, nil, "QueryResult")
		if err != nil {
			return err
		}
		out = append(out, qr)
		return nil
	})
	return out, err
}

// ChunkEncoding is Chunk.Type.
type ChunkEncoding int32

const (
	// ChunkXOR is Prometheus's XOR chunk (tsdb/chunkenc), what a
	// Prometheus client expects in STREAMED_XOR_CHUNKS.
	ChunkXOR ChunkEncoding = 1
	// ChunkStage03 is a stage03 Gorilla chunk, as stage06 stores it.
	// Its bit layout is not Prometheus's XOR (other delta-of-delta
	// buckets, an encoding in the header), so it has a number of its own,
	// outside the range Prometheus uses: a Prometheus client refuses it
	// instead of misreading it; this workspace's own nodes decode it
	// with stage03.
	ChunkStage03 ChunkEncoding = 0x53
)

// Chunk is one chunk of a streamed series: its time range (ms) and bytes.
type Chunk struct {
	MinT, MaxT int64
	Type       ChunkEncoding
	Data       []byte
}

// ChunkedSeries is one series of a streamed answer.
type ChunkedSeries struct {
	Labels model.Labels
	Chunks []Chunk
}

// AppendChunkedReadResponse encodes one ChunkedReadResponse message (a
// frame's content) for the query at queryIndex.
func AppendChunkedReadResponse(dst []byte, series []ChunkedSeries, queryIndex int64) []byte {
	for _, s := range series {
		var b []byte
		for l := range s.Labels.All() {
			b = protowire.AppendTag(b, fieldChunkedLabels, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(labelSize(l)))
			b = protowire.AppendTag(b, fieldName, protowire.BytesType)
			b = protowire.AppendString(b, l.Name)
			b = protowire.AppendTag(b, fieldValue, protowire.BytesType)
			b = protowire.AppendString(b, l.Value)
		}
		for _, c := range s.Chunks {
			var cb []byte
			cb = appendVarintField(cb, fieldChunkMinT, uint64(c.MinT))
			cb = appendVarintField(cb, fieldChunkMaxT, uint64(c.MaxT))
			cb = appendVarintField(cb, fieldChunkType, uint64(c.Type))
			cb = protowire.AppendTag(cb, fieldChunkData, protowire.BytesType)
			cb = protowire.AppendBytes(cb, c.Data)
			b = protowire.AppendTag(b, fieldChunkedChunks, protowire.BytesType)
			b = protowire.AppendBytes(b, cb)
		}
		dst = protowire.AppendTag(dst, fieldChunkedSeries, protowire.BytesType)
		dst = protowire.AppendBytes(dst, b)
	}
	return appendVarintField(dst, fieldChunkedQuery, uint64(queryIndex))
}

// DecodeChunkedReadResponse decodes one frame's ChunkedReadResponse. The
// chunks' Data alias buf.
func DecodeChunkedReadResponse(buf []byte) ([]ChunkedSeries, int64, error) {
	var out []ChunkedSeries
	var qi int64
	err := fields(buf, "ChunkedReadResponse", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case num == fieldChunkedQuery && typ == protowire.VarintType:
			qi = int64(v)
		case num == fieldChunkedSeries && typ == protowire.BytesType:
			var cs ChunkedSeries
			var ls []model.Label
			err := fields(b, "ChunkedSeries", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
				switch {
				case num == fieldChunkedLabels && typ == protowire.BytesType:
					l, err := decodeLabel(b)
					if err != nil {
						return err
					}
					ls = append(ls, model.Label{Name: string(l.Name), Value: string(l.Value)})
				case num == fieldChunkedChunks && typ == protowire.BytesType:
					var c Chunk
					err := fields(b, "Chunk", func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
						switch {
						case num == fieldChunkMinT && typ == protowire.VarintType:
							c.MinT = int64(v)
						case num == fieldChunkMaxT && typ == protowire.VarintType:
							c.MaxT = int64(v)
						case num == fieldChunkType && typ == protowire.VarintType:
							c.Type = ChunkEncoding(v)
						case num == fieldChunkData && typ == protowire.BytesType:
							c.Data = b
						}
						return nil
					})
					if err != nil {
						return err
					}
					cs.Chunks = append(cs.Chunks, c)
				}
				return nil
			})
			if err != nil {
				return err
			}
			lset, err := model.New(ls...)
			if err != nil {
				return errorf("ChunkedSeries labels: %v", err)
			}
			cs.Labels = lset
			out = append(out, cs)
		}
		return nil
	})
	return out, qi, err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrChecksum: a streamed frame's CRC does not match its message.
var ErrChecksum = errors.New("remote: streamed read frame checksum mismatch")

// AppendFrame appends one streamed-read frame holding msg.
func AppendFrame(dst, msg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(msg)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(msg, castagnoli))
	return append(dst, msg...)
}

// FrameReader reads the frames of a streamed read answer.
type FrameReader struct {
	r     *bufio.Reader
	limit int
	buf   []byte
}

// NewFrameReader reads frames from r, refusing any larger than limit bytes.
func NewFrameReader(r io.Reader, limit int) *FrameReader {
	return &FrameReader{r: bufio.NewReader(r), limit: limit}
}

// Next returns the next frame's message (valid until the next call),
// io.EOF after the last one.
func (f *FrameReader) Next() ([]byte, error) {
	n, err := binary.ReadUvarint(f.r)
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, errorf("streamed read frame: %v", err)
	}
	if n > uint64(f.limit) || n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: streamed read frame of %d bytes, limit %d", ErrTooLarge, n, f.limit)
	}
	var crc [4]byte
	if _, err := io.ReadFull(f.r, crc[:]); err != nil {
		return nil, errorf("streamed read frame: %v", err)
	}
	if cap(f.buf) < int(n) {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, errorf("streamed read frame: %v", err)
	}
	if crc32.Checksum(f.buf, castagnoli) != binary.BigEndian.Uint32(crc[:]) {
		return nil, ErrChecksum
	}
	return f.buf, nil
}
