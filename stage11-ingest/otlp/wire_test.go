package otlp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	resource "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The wire decoder is checked against the generated-type path (Unmarshal
// and Decode), which stays as the oracle: requests made with the generated
// Go types and marshalled by their encoder (an encoder independent of the
// decoder under test), then scrambled as protobuf allows a sender to
// (fields reordered, messages sent in pieces, packed runs unpacked), and
// arbitrary bytes (FuzzDecodeProtobuf). Both must give the same series,
// samples, histograms and Stats, or both refuse the request.

// recorder is a Writer that keeps what it is given.
type recorder struct {
	key []byte
	out []string
}

func (r *recorder) Series(f ingest.Format, key []byte) { r.key = append(r.key[:0], key...) }
func (r *recorder) Add(suffix []byte, t int64, v float64) {
	r.out = append(r.out, fmt.Sprintf("%x %s %d %x", r.key, suffix, t, math.Float64bits(v)))
}

type decoded struct {
	out   []string
	hists []string
	st    Stats
	err   error
}

func histString(lset model.Labels, t int64, h *histogram.Histogram) string {
	return fmt.Sprintf("%s %d %+v", lset, t, *h)
}

// oldPath decodes body with the generated types.
func oldPath(body []byte, lim ingest.Limits, hists bool) decoded {
	var r decoded
	req, err := Unmarshal(body, ContentTypeProtobuf)
	if err != nil {
		r.err = err
		return r
	}
	d := NewDecoder(lim)
	if hists {
		d.Histograms = func(lset model.Labels, t int64, h *histogram.Histogram) {
			r.hists = append(r.hists, histString(lset, t, h))
		}
	}
	rec := &recorder{}
	r.st = d.Decode(rec, req)
	r.out = rec.out
	return r
}

// newPath decodes body with the wire decoder d (reused, as a server does).
func newPath(d *Decoder, body []byte, hists bool) decoded {
	var r decoded
	d.Histograms = nil
	if hists {
		d.Histograms = func(lset model.Labels, t int64, h *histogram.Histogram) {
			r.hists = append(r.hists, histString(lset, t, h))
		}
	}
	rec := &recorder{}
	r.st, r.err = d.DecodeProtobuf(rec, body)
	r.out = rec.out
	return r
}

func statsString(st Stats) string {
	errs := make([]string, len(st.Errors))
	for i, e := range st.Errors {
		errs[i] = e.Error()
	}
	st.Errors = nil
	return fmt.Sprintf("%+v %q", st, errs)
}

// same reports how got (wire) differs from want (generated types).
func same(got, want decoded) error {
	if (got.err != nil) != (want.err != nil) {
		return fmt.Errorf("error %v, generated types' %v", got.err, want.err)
	}
	if got.err != nil {
		if !errors.Is(got.err, ErrInvalid) || !errors.Is(want.err, ErrInvalid) {
			return fmt.Errorf("errors %v and %v do not wrap ErrInvalid", got.err, want.err)
		}
		return nil
	}
	if !slices.Equal(got.out, want.out) {
		return fmt.Errorf("samples differ:\n%s\ngenerated types':\n%s", strings.Join(got.out, "\n"), strings.Join(want.out, "\n"))
	}
	if !slices.Equal(got.hists, want.hists) {
		return fmt.Errorf("histograms differ:\n%q\ngenerated types':\n%q", got.hists, want.hists)
	}
	if g, w := statsString(got.st), statsString(want.st); g != w {
		return fmt.Errorf("stats %s, generated types' %s", g, w)
	}
	return nil
}

// Random requests: every kind of metric and value, names and keys that
// need translating, the refusals (delta, limits, bad histograms).

var (
	keys  = []string{"host.name", "http.method", "a", "le", "quantile", "job", "__name__", "", "über-größe", "0digit", "a__b", "__", "service.name", "x.y.z"}
	words = []string{"", "GET", "pod-1", "api", "shop", "ü", "a b", `q"uote`, strings.Repeat("v", 40)}
	units = []string{"", "1", "By", "s", "ms", "{request}", "By/s", "%", "Cel"}
	names = []string{"cpu.usage", "http.server.duration", "requests", "memory", "queue.depth", "", "__", "bytes_total", "rpc.latency", "ü.metric", "9lives"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randomValue(r *rand.Rand, depth int) *common.AnyValue {
	switch r.IntN(12) {
	case 0:
		return &common.AnyValue{Value: &common.AnyValue_IntValue{IntValue: r.Int64() - r.Int64()}}
	case 1:
		return &common.AnyValue{Value: &common.AnyValue_DoubleValue{DoubleValue: pick(r, []float64{0.5, -1e300, 3, math.Inf(1), math.NaN(), 1e-7})}}
	case 2:
		return &common.AnyValue{Value: &common.AnyValue_BoolValue{BoolValue: r.IntN(2) == 0}}
	case 3:
		if depth > 0 {
			av := &common.ArrayValue{}
			for range r.IntN(3) {
				av.Values = append(av.Values, randomValue(r, depth-1))
			}
			return &common.AnyValue{Value: &common.AnyValue_ArrayValue{ArrayValue: av}}
		}
	case 4:
		if depth > 0 {
			return &common.AnyValue{Value: &common.AnyValue_KvlistValue{KvlistValue: &common.KeyValueList{Values: randomAttrs(r, 2, depth-1)}}}
		}
	case 5:
		return &common.AnyValue{Value: &common.AnyValue_BytesValue{BytesValue: []byte{1, 2, 0xff}}}
	case 6:
		return &common.AnyValue{}
	case 7:
		return nil
	}
	return &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: pick(r, words)}}
}

func randomAttrs(r *rand.Rand, n, depth int) []*common.KeyValue {
	var kvs []*common.KeyValue
	for range r.IntN(n + 1) {
		kvs = append(kvs, &common.KeyValue{Key: pick(r, keys), Value: randomValue(r, depth)})
	}
	return kvs
}

func randomTime(r *rand.Rand) uint64 { return ns + uint64(r.IntN(1e6))*1e6 + uint64(r.IntN(3)) }

func randomFlags(r *rand.Rand) uint32 {
	if r.IntN(5) == 0 {
		return uint32(r.IntN(4))
	}
	return 0
}

func randomExemplars(r *rand.Rand) []*metrics.Exemplar {
	if r.IntN(4) != 0 {
		return nil
	}
	return []*metrics.Exemplar{{FilteredAttributes: randomAttrs(r, 2, 1), TimeUnixNano: randomTime(r), Value: &metrics.Exemplar_AsDouble{AsDouble: 1}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}
}

func randomTemporality(r *rand.Rand) metrics.AggregationTemporality {
	return pick(r, []metrics.AggregationTemporality{2, 2, 2, 1, 0})
}

func randomMetric(r *rand.Rand) *metrics.Metric {
	m := &metrics.Metric{Name: pick(r, names), Unit: pick(r, units)}
	if r.IntN(4) == 0 {
		m.Description = "what it measures"
		m.Metadata = randomAttrs(r, 1, 1)
	}
	points := r.IntN(4)
	switch r.IntN(7) {
	case 0, 1:
		var dps []*metrics.NumberDataPoint
		for range points {
			dps = append(dps, randomNumberPoint(r))
		}
		if r.IntN(2) == 0 {
			m.Data = &metrics.Metric_Gauge{Gauge: &metrics.Gauge{DataPoints: dps}}
		} else {
			m.Data = &metrics.Metric_Sum{Sum: &metrics.Sum{DataPoints: dps, IsMonotonic: r.IntN(3) != 0, AggregationTemporality: randomTemporality(r)}}
		}
	case 2:
		h := &metrics.Histogram{AggregationTemporality: randomTemporality(r)}
		for range points {
			p := &metrics.HistogramDataPoint{Attributes: randomAttrs(r, 3, 1), TimeUnixNano: randomTime(r), Count: uint64(r.IntN(100)), Flags: randomFlags(r), Exemplars: randomExemplars(r)}
			if r.IntN(3) != 0 {
				p.Sum = proto.Float64(r.Float64() * 10)
			}
			nb := r.IntN(4)
			for i := range nb {
				p.ExplicitBounds = append(p.ExplicitBounds, float64(i)*0.25+pick(r, []float64{0, 1e-9, 1e21}))
			}
			nc := nb + 1
			if r.IntN(6) == 0 {
				nc = r.IntN(5) // sometimes none, sometimes not bounds+1
			}
			for range nc {
				p.BucketCounts = append(p.BucketCounts, uint64(r.IntN(10)))
			}
			h.DataPoints = append(h.DataPoints, p)
		}
		m.Data = &metrics.Metric_Histogram{Histogram: h}
	case 3:
		s := &metrics.Summary{}
		for range points {
			p := &metrics.SummaryDataPoint{Attributes: randomAttrs(r, 3, 1), TimeUnixNano: randomTime(r), Count: uint64(r.IntN(100)), Sum: r.Float64(), Flags: randomFlags(r)}
			for range r.IntN(3) {
				p.QuantileValues = append(p.QuantileValues, &metrics.SummaryDataPoint_ValueAtQuantile{Quantile: pick(r, []float64{0, 0.5, 0.99, 1}), Value: r.Float64()})
			}
			s.DataPoints = append(s.DataPoints, p)
		}
		m.Data = &metrics.Metric_Summary{Summary: s}
	case 4:
		e := &metrics.ExponentialHistogram{AggregationTemporality: randomTemporality(r)}
		for range points {
			p := &metrics.ExponentialHistogramDataPoint{Attributes: randomAttrs(r, 2, 1), TimeUnixNano: randomTime(r), Count: 6, Sum: proto.Float64(9),
				Scale: int32(r.IntN(30) - 6), ZeroCount: 1, Flags: randomFlags(r),
				Positive: &metrics.ExponentialHistogramDataPoint_Buckets{Offset: int32(r.IntN(5) - 2), BucketCounts: []uint64{1, 0, 2, 0, 0, 0, 2}}}
			if r.IntN(2) == 0 {
				p.Negative = &metrics.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: []uint64{0, 3}}
			}
			e.DataPoints = append(e.DataPoints, p)
		}
		m.Data = &metrics.Metric_ExponentialHistogram{ExponentialHistogram: e}
	case 5:
		// no data
	default:
		var dps []*metrics.NumberDataPoint
		for range points {
			dps = append(dps, randomNumberPoint(r))
		}
		m.Data = &metrics.Metric_Sum{Sum: &metrics.Sum{DataPoints: dps, IsMonotonic: true, AggregationTemporality: 2}}
	}
	return m
}

func randomNumberPoint(r *rand.Rand) *metrics.NumberDataPoint {
	p := &metrics.NumberDataPoint{Attributes: randomAttrs(r, 4, 1), TimeUnixNano: randomTime(r), Flags: randomFlags(r), Exemplars: randomExemplars(r)}
	switch r.IntN(5) {
	case 0, 1:
		p.Value = &metrics.NumberDataPoint_AsInt{AsInt: r.Int64N(1000) - 500}
	case 2, 3:
		p.Value = &metrics.NumberDataPoint_AsDouble{AsDouble: pick(r, []float64{0.25, -3, 1e300, math.Inf(-1), math.NaN()})}
	}
	return p
}

func randomRequest(r *rand.Rand) *colmetrics.ExportMetricsServiceRequest {
	req := &colmetrics.ExportMetricsServiceRequest{}
	for range r.IntN(3) + 1 {
		rm := &metrics.ResourceMetrics{SchemaUrl: pick(r, []string{"", "https://opentelemetry.io/schemas/1.21.0"})}
		if r.IntN(5) != 0 {
			res := &resource.Resource{Attributes: randomAttrs(r, 2, 1)}
			for _, k := range []string{"service.name", "service.namespace", "service.instance.id"} {
				if r.IntN(3) != 0 {
					res.Attributes = append(res.Attributes, &common.KeyValue{Key: k, Value: randomValue(r, 1)})
				}
			}
			r.Shuffle(len(res.Attributes), func(i, j int) { res.Attributes[i], res.Attributes[j] = res.Attributes[j], res.Attributes[i] })
			if r.IntN(4) == 0 {
				res.EntityRefs = []*common.EntityRef{{Type: "service", IdKeys: []string{"service.name"}}}
			}
			rm.Resource = res
		}
		for range r.IntN(3) {
			sm := &metrics.ScopeMetrics{}
			if r.IntN(2) == 0 {
				sm.Scope = &common.InstrumentationScope{Name: "io.opentelemetry.runtime", Version: "1.0", Attributes: randomAttrs(r, 1, 1)}
			}
			for range r.IntN(5) {
				sm.Metrics = append(sm.Metrics, randomMetric(r))
			}
			rm.ScopeMetrics = append(rm.ScopeMetrics, sm)
		}
		req.ResourceMetrics = append(req.ResourceMetrics, rm)
	}
	return req
}

// scramble re-encodes message b of type md as another sender might:
// fields in another order (those of one number keeping their order, so
// that the message means the same, though the oracle would tell either
// way), a message field now and then split in two pieces (merged by the
// receiver), packed runs now and then unpacked. Nested messages likewise.
func scramble(r *rand.Rand, b []byte, md protoreflect.MessageDescriptor) []byte {
	type fieldBytes struct {
		num protowire.Number
		enc []byte
	}
	var fs []fieldBytes
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		val := b[n : n+m]
		b = b[n+m:]
		fd := md.Fields().ByNumber(num)
		var enc []byte
		switch {
		case fd != nil && fd.Kind() == protoreflect.MessageKind:
			v, _ := protowire.ConsumeBytes(val)
			v = scramble(r, v, fd.Message())
			if split := splitPoint(r, v); split > 0 && !fd.IsList() {
				enc = protowire.AppendTag(enc, num, protowire.BytesType)
				enc = protowire.AppendBytes(enc, v[:split])
				v = v[split:]
			}
			enc = protowire.AppendTag(enc, num, protowire.BytesType)
			enc = protowire.AppendBytes(enc, v)
		case fd != nil && fd.IsList() && typ == protowire.BytesType && fd.Kind() != protoreflect.StringKind && r.IntN(2) == 0:
			v, _ := protowire.ConsumeBytes(val)
			want := wireType(fd.Kind())
			for len(v) > 0 {
				k := protowire.ConsumeFieldValue(num, want, v)
				enc = protowire.AppendTag(enc, num, want)
				enc = append(enc, v[:k]...)
				v = v[k:]
			}
		default:
			if fd != nil && !fd.IsList() && (typ == protowire.VarintType || typ == protowire.Fixed64Type) && r.IntN(4) == 0 {
				// An earlier value of the field, which the last replaces.
				enc = protowire.AppendTag(enc, num, typ)
				if typ == protowire.VarintType {
					enc = protowire.AppendVarint(enc, uint64(r.IntN(3)))
				} else {
					enc = protowire.AppendFixed64(enc, r.Uint64())
				}
			}
			enc = protowire.AppendTag(enc, num, typ)
			enc = append(enc, val...)
		}
		fs = append(fs, fieldBytes{num, enc})
	}
	// A random interleaving that keeps each number's fields in order.
	var out []byte
	for len(fs) > 0 {
		i := r.IntN(len(fs))
		for j := range i {
			if fs[j].num == fs[i].num {
				i = j
				break
			}
		}
		out = append(out, fs[i].enc...)
		fs = slices.Delete(fs, i, i+1)
	}
	return out
}

// splitPoint is a field boundary inside message v, or 0.
func splitPoint(r *rand.Rand, v []byte) int {
	if r.IntN(4) != 0 {
		return 0
	}
	var bounds []int
	for off := 0; off < len(v); {
		num, typ, n := protowire.ConsumeTag(v[off:])
		off += n + protowire.ConsumeFieldValue(num, typ, v[off+n:])
		bounds = append(bounds, off)
	}
	if len(bounds) < 2 {
		return 0
	}
	return bounds[r.IntN(len(bounds)-1)]
}

var descRequest = (&colmetrics.ExportMetricsServiceRequest{}).ProtoReflect().Descriptor()

// TestDecodeProtobufMatchesGeneratedTypes: random requests, as the OTLP Go
// types encode them and scrambled, decode alike by both paths.
func TestDecodeProtobufMatchesGeneratedTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Two decoders sharing a cache of attribute sets, one of other limits
	// given the same cache (it must keep its own).
	shared := NewSetCache(ingest.Limits{})
	d, d2 := NewDecoder(ingest.Limits{}), NewDecoder(ingest.Limits{})
	d.Sets, d2.Sets = shared, shared
	small := NewDecoder(ingest.Limits{MaxLabels: 4, MaxLabelValueBytes: 20, MaxLabelNameBytes: 12})
	small.Sets = shared
	n := 1500
	if testing.Short() {
		n = 500
	}
	var points, rejected, invalid int
	for i := range n {
		body, err := proto.Marshal(randomRequest(r))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			body = scramble(r, body, descRequest)
		}
		hists := i%3 != 0
		dec, lim := d, ingest.Limits{}
		if i%3 == 1 {
			dec = d2
		}
		if i%5 == 4 {
			dec, lim = small, small.Limits
		}
		got, want := newPath(dec, body, hists), oldPath(body, lim, hists)
		if err := same(got, want); err != nil {
			t.Fatalf("request %d (%x): %v", i, body, err)
		}
		points += len(want.out)
		rejected += want.st.Rejected
		if want.err != nil {
			invalid++
		}
	}
	// The requests must exercise what they are for.
	if points < n || rejected < n/10 || invalid != 0 {
		t.Fatalf("%d samples, %d rejected, %d invalid: the random requests miss their purpose", points, rejected, invalid)
	}
}

// TestDecodeProtobufRefusesAsGeneratedTypes: damaged requests (bytes cut,
// flipped, invalid UTF-8, wrong wire types) are refused by both paths or
// decoded alike.
func TestDecodeProtobufRefusesAsGeneratedTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	d := NewDecoder(ingest.Limits{})
	refused := 0
	for i := range 1500 {
		body, _ := proto.Marshal(randomRequest(r))
		if len(body) == 0 {
			continue
		}
		body = slices.Clone(body)
		switch i % 4 {
		case 0:
			body = body[:r.IntN(len(body))]
		case 1:
			body[r.IntN(len(body))] ^= byte(1 << r.IntN(8))
		case 2:
			body[r.IntN(len(body))] = 0xff // often inside a string: invalid UTF-8
		case 3:
			body[r.IntN(len(body))] = byte(r.IntN(256))
			if i%8 == 3 {
				// A field number above protobuf's largest, which
				// protowire.ConsumeTag alone would let through.
				body = protowire.AppendVarint(protowire.AppendTag(body, protowire.MaxValidNumber+1+protowire.Number(r.IntN(1000)), protowire.VarintType), 1)
			}
		}
		got, want := newPath(d, body, i%2 == 0), oldPath(body, ingest.Limits{}, i%2 == 0)
		if err := same(got, want); err != nil {
			t.Fatalf("request %d (%x): %v", i, body, err)
		}
		if want.err != nil {
			refused++
		}
	}
	if refused < 150 {
		t.Fatalf("only %d damaged requests refused", refused)
	}
}

// TestDecodeProtobufMerges: protobuf's rules for fields sent more than
// once, by hand: a metric whose data is a gauge, then a sum (which replaces
// it), then the sum again (merged into it: two points, and the
// temporality given after the points).
func TestDecodeProtobufMerges(t *testing.T) {
	point := func(v int64) []byte {
		p, _ := proto.Marshal(&metrics.NumberDataPoint{TimeUnixNano: ns, Value: &metrics.NumberDataPoint_AsInt{AsInt: v}})
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), p)
	}
	var m []byte
	m = protowire.AppendBytes(protowire.AppendTag(m, fieldGauge, protowire.BytesType), point(1))
	m = protowire.AppendBytes(protowire.AppendTag(m, fieldSum, protowire.BytesType), point(2))
	sum2 := append(point(3), protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 2)...)
	sum2 = append(sum2, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1)...)
	m = protowire.AppendBytes(protowire.AppendTag(m, fieldSum, protowire.BytesType), sum2)
	m = protowire.AppendString(protowire.AppendTag(m, 1, protowire.BytesType), "hits")   // the name last
	body := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), m)   // ScopeMetrics.metrics
	body = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), body) // ResourceMetrics.scope_metrics
	body = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), body) // request.resource_metrics
	got := newPath(NewDecoder(ingest.Limits{}), body, false)
	if err := same(got, oldPath(body, ingest.Limits{}, false)); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%x", ingest.AppendPair(nil, "__name__", "hits_total"))
	if len(got.out) != 2 || !strings.HasPrefix(got.out[0], key+" ") || !strings.HasSuffix(got.out[1], fmt.Sprintf("%x", math.Float64bits(3))) {
		t.Fatalf("got %q", got.out)
	}
}

// TestDecodeProtobufNesting: proto.Unmarshal's nesting limit, at the
// limit and one past it, in an attribute's value.
func TestDecodeProtobufNesting(t *testing.T) {
	// request 1 > ResourceMetrics 2 > Resource 3 > KeyValue 4 > AnyValue 5
	// > ArrayValue 6 > AnyValue 7 …
	nested := func(levels int) []byte {
		v := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x") // AnyValue at level 5+2k
		level := 5
		for level+2 <= levels {
			arr := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), v)
			v = protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), arr)
			level += 2
		}
		kv := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "service.name")
		kv = protowire.AppendBytes(protowire.AppendTag(kv, 2, protowire.BytesType), v)
		res := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), kv)
		rm := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), res)
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rm)
	}
	for _, levels := range []int{maxLevel - 1, maxLevel + 1} {
		body := nested(levels)
		got, want := newPath(NewDecoder(ingest.Limits{}), body, false), oldPath(body, ingest.Limits{}, false)
		if err := same(got, want); err != nil {
			t.Fatalf("%d levels: %v", levels, err)
		}
		if (want.err != nil) != (levels > maxLevel) {
			t.Fatalf("%d levels: error %v", levels, want.err)
		}
	}
}

// TestDecodeProtobufOddFields: odd fields (prompbtest.Fields: field numbers
// 0 and above 2^29-1, every wire type, groups) put into each message
// nested in a request (one of every message type of the schema the wire
// decoder reads or checks): the wire decoder refuses the request exactly
// when the generated types do, and otherwise decodes it alike.
func TestDecodeProtobufOddFields(t *testing.T) {
	req := request()
	rm := req.ResourceMetrics[0]
	rm.SchemaUrl = "https://opentelemetry.io/schemas/1.21.0"
	rm.Resource.EntityRefs = []*common.EntityRef{{Type: "service", IdKeys: []string{"service.name"}}}
	rm.Resource.Attributes = append(rm.Resource.Attributes,
		&common.KeyValue{Key: "list", Value: &common.AnyValue{Value: &common.AnyValue_ArrayValue{ArrayValue: &common.ArrayValue{
			Values: []*common.AnyValue{{Value: &common.AnyValue_IntValue{IntValue: 1}}}}}}},
		&common.KeyValue{Key: "map", Value: &common.AnyValue{Value: &common.AnyValue_KvlistValue{KvlistValue: &common.KeyValueList{
			Values: []*common.KeyValue{str("k", "v")}}}}})
	sm := rm.ScopeMetrics[0]
	sm.Scope = &common.InstrumentationScope{Name: "runtime", Version: "1.0", Attributes: []*common.KeyValue{str("a", "b")}}
	ms := sm.Metrics
	ms[0].Metadata = []*common.KeyValue{str("m", "n")}
	ms[1].GetSum().DataPoints[0].Exemplars = []*metrics.Exemplar{{FilteredAttributes: []*common.KeyValue{str("x", "y")}, TimeUnixNano: ns,
		Value: &metrics.Exemplar_AsDouble{AsDouble: 1}, TraceId: make([]byte, 16), SpanId: make([]byte, 8)}}
	ms[1].GetSum().DataPoints[0].Attributes = append(ms[1].GetSum().DataPoints[0].Attributes,
		&common.KeyValue{Key: "n", Value: &common.AnyValue{Value: &common.AnyValue_DoubleValue{DoubleValue: 0.5}}},
		&common.KeyValue{Key: "ok", Value: &common.AnyValue{Value: &common.AnyValue_BoolValue{BoolValue: true}}})
	ms[3].GetHistogram().DataPoints[0].Exemplars = ms[1].GetSum().DataPoints[0].Exemplars
	exp := ms[len(ms)-1].GetExponentialHistogram()
	exp.AggregationTemporality = metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	exp.DataPoints[0] = &metrics.ExponentialHistogramDataPoint{Attributes: []*common.KeyValue{str("e", "f")}, TimeUnixNano: ns, Count: 3,
		Sum: proto.Float64(4), Scale: 1, ZeroCount: 1, Positive: &metrics.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: []uint64{2}},
		Negative: &metrics.ExponentialHistogramDataPoint_Buckets{BucketCounts: []uint64{0}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(ingest.Limits{})
	if err := same(newPath(d, body, true), oldPath(body, ingest.Limits{}, true)); err != nil {
		t.Fatal(err)
	}
	places := 0
	for _, f := range prompbtest.Fields() {
		variants := prompbtest.Insert(body, descRequest, f.Bytes)
		places = len(variants)
		for i, b := range variants {
			got, want := newPath(d, b, true), oldPath(b, ingest.Limits{}, true)
			if (want.err != nil) != f.Refused {
				t.Fatalf("%s, place %d: generated types' error %v; the test's expectation is wrong", f.Name, i, want.err)
			}
			if err := same(got, want); err != nil {
				t.Errorf("%s, place %d (%x): %v", f.Name, i, b, err)
			}
		}
	}
	if places < 60 {
		t.Fatalf("only %d places to put a field", places)
	}
}

func FuzzDecodeProtobuf(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		body, _ := proto.Marshal(randomRequest(r))
		f.Add(body)
	}
	pb, _ := proto.Marshal(request())
	f.Add(pb)
	for _, fb := range prompbtest.Fields() {
		f.Add(append(append([]byte(nil), fb.Bytes...), pb...))
	}
	d := NewDecoder(ingest.Limits{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := same(newPath(d, b, true), oldPath(b, ingest.Limits{}, true)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetCacheShared: decoders sharing a cache on several goroutines
// (run with -race) decode alike, as one decoder alone does.
func TestSetCacheShared(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var bodies [][]byte
	var want []decoded
	for range 40 {
		body, _ := proto.Marshal(randomRequest(r))
		bodies = append(bodies, body)
		want = append(want, oldPath(body, ingest.Limits{}, false))
	}
	shared := NewSetCache(ingest.Limits{})
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			d := NewDecoder(ingest.Limits{})
			d.Sets = shared
			for i := range bodies {
				i = (i + g*10) % len(bodies)
				if err := same(newPath(d, bodies[i], false), want[i]); err != nil {
					errs <- fmt.Errorf("request %d: %v", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// nop is a Writer that keeps nothing.
type nop struct{ n int }

func (*nop) Series(ingest.Format, []byte) {}
func (w *nop) Add([]byte, int64, float64) { w.n++ }

// TestDecodeProtobufAllocs: in the steady state (the decoder's buffers
// grown, its name caches filled) decoding allocates nothing per point.
func TestDecodeProtobufAllocs(t *testing.T) {
	body, points := benchRequest()
	d := NewDecoder(ingest.Limits{})
	w := &nop{}
	if _, err := d.DecodeProtobuf(w, body); err != nil || w.n != points {
		t.Fatalf("%d points, %v", w.n, err)
	}
	allocs := testing.AllocsPerRun(20, func() { d.DecodeProtobuf(w, body) })
	if allocs > 0 {
		t.Fatalf("%.0f allocations decoding %d points", allocs, points)
	}
}

// benchRequest is a request like the stage's load generator's: ten
// gauges (TSBS's cpu fields), a data point for each of 100 hosts, with ten
// string attributes.
func benchRequest() ([]byte, int) {
	req := &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{
		Resource:     &resource.Resource{Attributes: []*common.KeyValue{str("service.name", "bench")}},
		ScopeMetrics: []*metrics.ScopeMetrics{{}},
	}}}
	sm := req.ResourceMetrics[0].ScopeMetrics[0]
	for f := range 10 {
		g := &metrics.Gauge{}
		for h := range 100 {
			var attrs []*common.KeyValue
			for i, k := range []string{"hostname", "region", "datacenter", "rack", "os", "arch", "team", "service", "service_version", "service_environment"} {
				attrs = append(attrs, str(k, fmt.Sprintf("%s_%d", k, (h+i)%17)))
			}
			g.DataPoints = append(g.DataPoints, &metrics.NumberDataPoint{Attributes: attrs, TimeUnixNano: ns, Value: &metrics.NumberDataPoint_AsInt{AsInt: int64(h)}})
		}
		sm.Metrics = append(sm.Metrics, &metrics.Metric{Name: fmt.Sprintf("cpu.usage_%d", f), Data: &metrics.Metric_Gauge{Gauge: g}})
	}
	body, _ := proto.Marshal(req)
	return body, 1000
}

// BenchmarkDecodeProtobuf: the wire decoder against the generated types
// (Unmarshal and Decode), on a request of 1,000 points.
func BenchmarkDecodeProtobuf(b *testing.B) {
	body, points := benchRequest()
	run := func(b *testing.B, decode func(d *Decoder, w Writer)) {
		d := NewDecoder(ingest.Limits{})
		w := &nop{}
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			decode(d, w)
		}
		b.ReportMetric(float64(points)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		b.ReportMetric(float64(testing.AllocsPerRun(5, func() { decode(d, w) }))/float64(points), "allocs/point")
	}
	b.Run("generated", func(b *testing.B) {
		run(b, func(d *Decoder, w Writer) {
			req, err := Unmarshal(body, ContentTypeProtobuf)
			if err != nil {
				b.Fatal(err)
			}
			d.Decode(w, req)
		})
	})
	b.Run("wire", func(b *testing.B) {
		run(b, func(d *Decoder, w Writer) {
			if _, err := d.DecodeProtobuf(w, body); err != nil {
				b.Fatal(err)
			}
		})
	})
	// A new decoder for each request: its names and its 100 attribute
	// sets read once (each is in 10 data points), then cached.
	b.Run("wire-cold", func(b *testing.B) {
		run(b, func(_ *Decoder, w Writer) {
			if _, err := NewDecoder(ingest.Limits{}).DecodeProtobuf(w, body); err != nil {
				b.Fatal(err)
			}
		})
	})
}
