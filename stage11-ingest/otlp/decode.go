package otlp

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/otlptranslator"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/remote"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The protobuf wire decoder: DecodeProtobuf reads an
// ExportMetricsServiceRequest straight from the body and streams its data
// points into the write, without building the generated message tree
// (which costs an allocation per data point, attribute and value, and
// reflection per field). The schema, field numbers only
// (opentelemetry-proto, metrics/v1 and common/v1):
//
//	ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
//	ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
//	Resource        { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; repeated EntityRef entity_refs = 3; }
//	ScopeMetrics    { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
//	Metric          { string name = 1; string description = 2; string unit = 3;
//	                  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9;
//	                               ExponentialHistogram exponential_histogram = 10; Summary summary = 11; }
//	                  repeated KeyValue metadata = 12; }
//	Gauge, Summary  { repeated …DataPoint data_points = 1; }
//	Sum             { data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
//	Histogram, ExponentialHistogram { data_points = 1; aggregation_temporality = 2; }
//	NumberDataPoint { repeated KeyValue attributes = 7; fixed64 time_unix_nano = 3;
//	                  oneof value { double as_double = 4; sfixed64 as_int = 6; } repeated Exemplar exemplars = 5; uint32 flags = 8; }
//	HistogramDataPoint { attributes = 9; time_unix_nano = 3; fixed64 count = 4; optional double sum = 5;
//	                  repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7; exemplars = 8; flags = 10; }
//	SummaryDataPoint { attributes = 7; time_unix_nano = 3; fixed64 count = 4; double sum = 5;
//	                  repeated ValueAtQuantile quantile_values = 6; flags = 8; }
//	ValueAtQuantile { double quantile = 1; double value = 2; }
//	KeyValue        { string key = 1; AnyValue value = 2; }
//	AnyValue        { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
//	                  double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6;
//	                  bytes bytes_value = 7; int32 string_value_strindex = 8; } }
//
// It gives what Unmarshal and Decode give, by protobuf's rules for a
// message read from arbitrary bytes: fields in any order, the last of a
// scalar or of a oneof wins, a message field seen twice is merged (its
// repeated fields concatenated) unless another member of its oneof came
// between, unknown fields and fields of another wire type skipped, the
// same requests refused (validate.go). A data point's fields are read
// before it is translated; a metric's name, unit, kind and temporality are
// read before its data points, and a resource's attributes before its
// scopes.
//
// Rare shapes go through the generated types, a piece at a time: an
// attribute whose value is an array, a map or bytes (rendered as JSON, as
// Decode does), and exponential histograms.

// Writer takes a Decoder's samples: an *ingest.Write.
type Writer interface {
	Series(f ingest.Format, key []byte)
	Add(suffix []byte, t int64, v float64)
}

// attr is an attribute, or a label made from one.
type attr struct {
	key   []byte // the attribute's key
	name  []byte // the label name
	value []byte
}

// quantile is a summary's ValueAtQuantile.
type quantile struct{ q, v float64 }

// wireState is the Decoder's reused state of DecodeProtobuf.
type wireState struct {
	labelNames  map[string][]byte // attribute key → label name
	metricNames map[string][]byte // kind, name, 0xff, unit → metric name
	nameKey     []byte

	job, instance []byte // the resource's labels, "" if none
	svcName       []byte
	svcNamespace  []byte
	baseSynced    bool // d.base holds job and instance (for the generated-type path)

	attrs []attr    // the data point's attributes, read
	kvs   [][]byte  // the data point's attributes, their KeyValue messages
	cur   *attrSet  // what the data point's attributes come to
	split attrSet   // cur for attributes not cached
	sets  *SetCache // Sets, or a cache of the decoder's own
	// The resource's labels, as Pairs, how many, and the first over a
	// limit.
	basePairs []byte
	nbase     int
	baseErr   error
	arena     []byte // attribute values rendered as text
	name      []byte // the metric name with a suffix
	le        []byte
	runs      [][]byte // the metric's data messages (one unless merged)
	counts    []uint64
	bounds    []uint64
	quants    []quantile
}

// attrSet is what a data point's attributes come to: their labels, or why
// they are refused. A sender repeats a series' attributes in every data
// point, encoded alike, so sets are cached by the attributes' bytes: a data
// point whose attributes were seen before is not read again (its bytes were
// checked then).
type attrSet struct {
	pairs    []byte // the labels, as Pairs
	n        int    // how many
	nameErr  error  // an attribute key that does not translate
	limitErr error  // the first label over a limit
}

// attrRun is where a data point's attribute fields are in it.
type attrRun struct {
	start, end, n int
	split         bool // other fields between them: not cached
}

func (r *attrRun) note(pos, end int) {
	if r.n == 0 {
		r.start = pos
	} else if pos != r.end {
		r.split = true
	}
	r.end, r.n = end, r.n+1
}

// SetCache holds what data points' attributes come to (attrSet), by their
// bytes, for the decoders that share it (Decoder.Sets): a server's
// decoders then read a series' attributes once between them. It is safe
// for concurrent use. Its entries include the checks of its limits, so a
// decoder with other limits keeps a cache of its own.
type SetCache struct {
	lim    ingest.Limits
	shards [setShards]setShard
}

type setShard struct {
	mu  sync.RWMutex
	m   map[string]*attrSet
	mem int // bytes held, about
	_   [32]byte
}

// setShards spreads the locks; maxShardMem bounds each shard (16 MiB in
// all, about 25,000 series of ten attributes): more distinct sets empty a
// shard.
const (
	setShards   = 16
	maxShardMem = 1 << 20
)

// NewSetCache returns a cache for decoders with limits lim.
func NewSetCache(lim ingest.Limits) *SetCache {
	c := &SetCache{lim: lim.WithDefaults()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*attrSet)
	}
	return c
}

// shard picks raw's shard from a few of its bytes (the map hashes it all).
func (c *SetCache) shard(raw []byte) *setShard {
	h := uint(len(raw))
	if len(raw) > 0 {
		h = h*31 + uint(raw[len(raw)-1])
		h = h*31 + uint(raw[len(raw)/2])
		h = h*31 + uint(raw[len(raw)*3/4])
	}
	return &c.shards[h%setShards]
}

func (c *SetCache) get(raw []byte) *attrSet {
	sh := c.shard(raw)
	sh.mu.RLock()
	a := sh.m[string(raw)]
	sh.mu.RUnlock()
	return a
}

func (c *SetCache) put(raw []byte, a *attrSet) {
	sh := c.shard(raw)
	sh.mu.Lock()
	if sh.mem > maxShardMem {
		clear(sh.m)
		sh.mem = 0
	}
	sh.m[string(raw)] = a
	sh.mem += len(raw) + len(a.pairs) + 100
	sh.mu.Unlock()
}

// maxCached bounds each name cache: a request of random names empties it
// rather than growing it.
const maxCached = 4096

var (
	nameLabel     = []byte(ingestMetricName)
	jobLabel      = []byte("job")
	instanceLabel = []byte("instance")
	leLabel       = []byte("le")
	quantileLabel = []byte("quantile")
	infValue      = []byte("+Inf")
	trueValue     = []byte("true")
	falseValue    = []byte("false")
)

const ingestMetricName = "__name__"

// Field numbers of the data oneof of Metric.
const (
	fieldGauge   = 5
	fieldSum     = 7
	fieldHist    = 9
	fieldExpHist = 10
	fieldSummary = 11
)

// Nesting levels (the request is 1), for the nesting limit.
const (
	levelResource  = 3
	levelScope     = 4
	levelMetric    = 4
	levelData      = 5
	levelPoint     = 6
	levelPointAttr = 7
)

// DecodeProtobuf decodes an ExportMetricsServiceRequest in protobuf and
// adds the samples of every data point it can take to w, as Unmarshal and
// Decode do, with the same Stats. A malformed request is an error
// wrapping ErrInvalid found part way: the samples already added (and
// histograms already handed to d.Histograms) are to be discarded, with
// w.Abort. Nothing refers to body once it returns.
func (d *Decoder) DecodeProtobuf(w Writer, body []byte) (Stats, error) {
	var st Stats
	if d.labelNames == nil {
		d.labelNames = make(map[string][]byte)
		d.metricNames = make(map[string][]byte)
	}
	switch {
	case d.Sets != nil && d.Sets.lim == d.Limits:
		d.sets = d.Sets
	case d.sets == nil || d.sets == d.Sets || d.sets.lim != d.Limits:
		d.sets = NewSetCache(d.Limits)
	}
	for b := body; len(b) > 0; {
		num, typ, n := remote.ConsumeTag(b)
		if n < 0 {
			return st, wireError("ExportMetricsServiceRequest", n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			msg, n := remote.ConsumeBytes(b)
			if n < 0 {
				return st, wireError("ExportMetricsServiceRequest.resource_metrics", n)
			}
			b = b[n:]
			if err := d.resourceMetrics(w, msg, &st); err != nil {
				return st, err
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return st, wireError("ExportMetricsServiceRequest", n)
		}
		b = b[n:]
	}
	return st, nil
}

// skip passes over an unknown field's value.
func skip(what string, num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, wireError(fmt.Sprintf("%s field %d", what, num), n)
	}
	return n, nil
}

// field reads the next field: its number, wire type, and for a
// length-delimited one its bytes; rest is what follows it. Other wire
// types are left to the caller (rest starts at the value).
func field(b []byte, what string) (num protowire.Number, typ protowire.Type, v []byte, rest []byte, err error) {
	num, typ, n := remote.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, wireError(what, n)
	}
	b = b[n:]
	if typ == protowire.BytesType {
		v, n = remote.ConsumeBytes(b)
		if n < 0 {
			return 0, 0, nil, nil, wireError(fmt.Sprintf("%s field %d", what, num), n)
		}
		b = b[n:]
	}
	return num, typ, v, b, nil
}

// next passes over a field that is not length-delimited and not read.
func next(what string, num protowire.Number, typ protowire.Type, b []byte) ([]byte, error) {
	if typ == protowire.BytesType {
		return b, nil // field already consumed it
	}
	n, err := skip(what, num, typ, b)
	return b[n:], err
}

func (d *Decoder) resourceMetrics(w Writer, b []byte, st *Stats) error {
	// The resource (merged, if sent in pieces) first: its labels are
	// every series'.
	d.svcName, d.svcNamespace, d.instance = d.svcName[:0], d.svcNamespace[:0], d.instance[:0]
	for rest := b; len(rest) > 0; {
		num, typ, v, r, err := field(rest, "ResourceMetrics")
		if err != nil {
			return err
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			if err := d.resource(v); err != nil {
				return err
			}
		case num == 3 && typ == protowire.BytesType:
			if !utf8.Valid(v) {
				return invalid("ResourceMetrics.schema_url: invalid UTF-8")
			}
		}
		if rest, err = next("ResourceMetrics", num, typ, r); err != nil {
			return err
		}
	}
	d.job = d.job[:0]
	if len(d.svcName) > 0 {
		if len(d.svcNamespace) > 0 {
			d.job = append(append(d.job, d.svcNamespace...), '/')
		}
		d.job = append(d.job, d.svcName...)
	}
	d.baseSynced = false
	d.basePairs, d.nbase, d.baseErr = d.basePairs[:0], 0, nil
	for _, l := range [2][2][]byte{{jobLabel, d.job}, {instanceLabel, d.instance}} {
		if len(l[1]) > 0 {
			if err := d.Limits.CheckLabel(l[0], l[1]); err != nil && d.baseErr == nil {
				d.baseErr = err
			}
			d.basePairs = ingest.AppendPair(d.basePairs, l[0], l[1])
			d.nbase++
		}
	}
	for rest := b; len(rest) > 0; {
		num, typ, v, r, err := field(rest, "ResourceMetrics")
		if err != nil {
			return err
		}
		if num == 2 && typ == protowire.BytesType {
			if err := d.scopeMetrics(w, v, st); err != nil {
				return err
			}
		}
		if rest, err = next("ResourceMetrics", num, typ, r); err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) resource(b []byte) error {
	for len(b) > 0 {
		num, typ, v, r, err := field(b, "Resource")
		if err != nil {
			return err
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			d.arena = d.arena[:0]
			a, err := d.keyValue(v, levelResource+1)
			if err != nil {
				return err
			}
			switch string(a.key) {
			case "service.name":
				d.svcName = append(d.svcName[:0], a.value...)
			case "service.namespace":
				d.svcNamespace = append(d.svcNamespace[:0], a.value...)
			case "service.instance.id":
				d.instance = append(d.instance[:0], a.value...)
			}
		case num == 3 && typ == protowire.BytesType:
			if err := validate(v, descEntityRef, levelResource+1); err != nil {
				return err
			}
		}
		if b, err = next("Resource", num, typ, r); err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) scopeMetrics(w Writer, b []byte, st *Stats) error {
	for len(b) > 0 {
		num, typ, v, r, err := field(b, "ScopeMetrics")
		if err != nil {
			return err
		}
		if typ == protowire.BytesType {
			switch num {
			case 1:
				err = validate(v, descScope, levelScope)
			case 2:
				err = d.decodeMetric(w, v, st)
			case 3:
				if !utf8.Valid(v) {
					err = invalid("ScopeMetrics.schema_url: invalid UTF-8")
				}
			}
			if err != nil {
				return err
			}
		}
		if b, err = next("ScopeMetrics", num, typ, r); err != nil {
			return err
		}
	}
	return nil
}

func dataDesc(num protowire.Number) protoreflect.MessageDescriptor {
	switch num {
	case fieldSum:
		return descSum
	case fieldHist:
		return descHistogram
	case fieldExpHist:
		return descExpHist
	case fieldSummary:
		return descSummary
	}
	return descGauge
}

func isData(num protowire.Number) bool {
	switch num {
	case fieldGauge, fieldSum, fieldHist, fieldExpHist, fieldSummary:
		return true
	}
	return false
}

// decodeMetric reads a Metric: its name, unit and data kind first, then
// its data points.
func (d *Decoder) decodeMetric(w Writer, b []byte, st *Stats) error {
	var name, unit []byte
	// kind is the member of the data oneof that stands; start is where its
	// last run begins (an earlier member, and what came before it, were
	// replaced).
	kind, start := protowire.Number(0), 0
	for rest := b; len(rest) > 0; {
		off := len(b) - len(rest)
		num, typ, v, r, err := field(rest, "Metric")
		if err != nil {
			return err
		}
		if typ == protowire.BytesType {
			switch num {
			case 1, 2, 3:
				if !utf8.Valid(v) {
					return invalid("Metric field %d: invalid UTF-8", num)
				}
				if num == 1 {
					name = v
				} else if num == 3 {
					unit = v
				}
			case 12:
				if err := validate(v, descKeyValue, levelMetric+1); err != nil {
					return err
				}
			case fieldGauge, fieldSum, fieldHist, fieldExpHist, fieldSummary:
				if num != kind {
					kind, start = num, off
				}
			}
		}
		if rest, err = next("Metric", num, typ, r); err != nil {
			return err
		}
	}
	// The data messages: replaced ones are only checked; the standing run
	// is merged: its data points counted, its temporality and monotonicity
	// (the last given) read.
	d.runs = d.runs[:0]
	points, temporality, monotonic := 0, int32(0), false
	for rest := b; kind != 0 && len(rest) > 0; {
		off := len(b) - len(rest)
		num, typ, v, r, _ := field(rest, "Metric") // read above
		rest, _ = next("Metric", num, typ, r)
		if typ != protowire.BytesType || !isData(num) {
			continue
		}
		if off < start {
			if err := validate(v, dataDesc(num), levelData); err != nil {
				return err
			}
			continue
		}
		d.runs = append(d.runs, v)
		for x := v; len(x) > 0; {
			num, typ, n := remote.ConsumeTag(x)
			if n < 0 {
				return wireError(string(dataDesc(kind).Name()), n)
			}
			x = x[n:]
			switch {
			case num == 1 && typ == protowire.BytesType:
				_, n = remote.ConsumeBytes(x)
				points++
			case num == 2 && typ == protowire.VarintType && kind != fieldGauge && kind != fieldSummary:
				var u uint64
				u, n = protowire.ConsumeVarint(x)
				temporality = int32(u)
			case num == 3 && typ == protowire.VarintType && kind == fieldSum:
				var u uint64
				u, n = protowire.ConsumeVarint(x)
				monotonic = u != 0
			default:
				n = protowire.ConsumeFieldValue(num, typ, x)
			}
			if n < 0 {
				return wireError(fmt.Sprintf("%s field %d", dataDesc(kind).Name(), num), n)
			}
			x = x[n:]
		}
	}

	var typ otlptranslator.MetricType = otlptranslator.MetricTypeUnknown
	switch kind {
	case fieldGauge:
		typ = otlptranslator.MetricTypeGauge
	case fieldSum:
		typ = otlptranslator.MetricTypeNonMonotonicCounter
		if monotonic {
			typ = otlptranslator.MetricTypeMonotonicCounter
		}
	case fieldHist:
		typ = otlptranslator.MetricTypeHistogram
	case fieldExpHist:
		typ = otlptranslator.MetricTypeExponentialHistogram
	case fieldSummary:
		typ = otlptranslator.MetricTypeSummary
	}
	st.DataPoints += points
	if typ == otlptranslator.MetricTypeExponentialHistogram && d.Histograms == nil {
		st.Skipped += points
		return d.validateRuns(kind)
	}
	if typ == otlptranslator.MetricTypeUnknown {
		st.reject(points, fmt.Errorf("metric %q: no data of a known type", name))
		return nil
	}
	if temporality == int32(metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA) && kind != fieldGauge && kind != fieldSummary {
		st.reject(points, fmt.Errorf("metric %q: %w", name, ErrDelta))
		return d.validateRuns(kind)
	}
	mname, err := d.metricName(name, unit, typ)
	if err != nil {
		st.reject(points, fmt.Errorf("metric %q: %v", name, err))
		return d.validateRuns(kind)
	}
	for _, run := range d.runs {
		for x := run; len(x) > 0; {
			num, typ, n := remote.ConsumeTag(x) // read above
			x = x[n:]
			if num != 1 || typ != protowire.BytesType {
				x = x[protowire.ConsumeFieldValue(num, typ, x):]
				continue
			}
			p, n := remote.ConsumeBytes(x)
			x = x[n:]
			switch kind {
			case fieldGauge, fieldSum:
				err = d.numberPoint(w, mname, p, st)
			case fieldHist:
				err = d.histogramPoint(w, mname, p, st)
			case fieldSummary:
				err = d.summaryPoint(w, mname, p, st)
			case fieldExpHist:
				err = d.expHistogramPoint(mname, p, st)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Decoder) validateRuns(kind protowire.Number) error {
	for _, run := range d.runs {
		if err := validate(run, dataDesc(kind), levelData); err != nil {
			return err
		}
	}
	return nil
}

// metricName translates a metric's name as Decode does, cached.
func (d *Decoder) metricName(name, unit []byte, typ otlptranslator.MetricType) ([]byte, error) {
	// 0xff is in no UTF-8 string: name and unit cannot run together.
	d.nameKey = append(append(append(append(d.nameKey[:0], byte(typ)), name...), 0xff), unit...)
	if m, ok := d.metricNames[string(d.nameKey)]; ok {
		return m, nil
	}
	s, err := d.metric.Build(otlptranslator.Metric{Name: string(name), Unit: string(unit), Type: typ})
	if err != nil {
		return nil, err
	}
	if len(d.metricNames) >= maxCached {
		clear(d.metricNames)
	}
	m := []byte(s)
	d.metricNames[string(d.nameKey)] = m
	return m, nil
}

// labelName translates an attribute key as Decode does, cached.
func (d *Decoder) labelName(key []byte) ([]byte, error) {
	if ln, ok := d.labelNames[string(key)]; ok {
		return ln, nil
	}
	s, err := d.label.Build(string(key))
	if err != nil {
		return nil, err
	}
	if len(d.labelNames) >= maxCached {
		clear(d.labelNames)
	}
	ln := []byte(s)
	d.labelNames[string(key)] = ln
	return ln, nil
}

// keyValue reads a KeyValue at level; the value may alias b or d.arena.
func (d *Decoder) keyValue(b []byte, level int) (attr, error) {
	var a attr
	var val []byte
	vals := 0
	for x := b; len(x) > 0; {
		num, typ, v, r, err := field(x, "KeyValue")
		if err != nil {
			return a, err
		}
		if typ == protowire.BytesType {
			switch num {
			case 1:
				if !utf8.Valid(v) {
					return a, invalid("KeyValue.key: invalid UTF-8")
				}
				a.key = v
			case 2:
				val = v
				vals++
			}
		}
		if x, err = next("KeyValue", num, typ, r); err != nil {
			return a, err
		}
	}
	switch vals {
	case 0:
		return a, nil
	case 1:
		v, ok, err := d.anyValue(val)
		if err != nil || ok {
			a.value = v
			return a, err
		}
	}
	// An array, a map, bytes, or a value sent in pieces: as Decode.
	kv := &common.KeyValue{}
	if err := (proto.UnmarshalOptions{RecursionLimit: maxLevel + 1 - level}).Unmarshal(b, kv); err != nil {
		return a, invalid("KeyValue: %v", err)
	}
	start := len(d.arena)
	d.arena = append(d.arena, attrString(kv.GetValue())...)
	a.value = d.arena[start:]
	return a, nil
}

// anyValue renders a string, bool, int or double AnyValue as attrString
// does; ok is false for the other kinds.
func (d *Decoder) anyValue(b []byte) (v []byte, ok bool, err error) {
	kind := protowire.Number(0)
	var s []byte
	var u uint64
	for len(b) > 0 {
		num, typ, n := remote.ConsumeTag(b)
		if n < 0 {
			return nil, false, wireError("AnyValue", n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, n = remote.ConsumeBytes(b)
			if n >= 0 && !utf8.Valid(s) {
				return nil, false, invalid("AnyValue.string_value: invalid UTF-8")
			}
			kind = num
		case (num == 2 || num == 3) && typ == protowire.VarintType:
			u, n = protowire.ConsumeVarint(b)
			kind = num
		case num == 4 && typ == protowire.Fixed64Type:
			u, n = protowire.ConsumeFixed64(b)
			kind = num
		case (num >= 5 && num <= 7 && typ == protowire.BytesType) || (num == 8 && typ == protowire.VarintType):
			return nil, false, nil
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, false, wireError(fmt.Sprintf("AnyValue field %d", num), n)
		}
		b = b[n:]
	}
	start := len(d.arena)
	switch kind {
	case 1:
		return s, true, nil
	case 2:
		if u != 0 {
			return trueValue, true, nil
		}
		return falseValue, true, nil
	case 3:
		d.arena = strconv.AppendInt(d.arena, int64(u), 10)
	case 4:
		d.arena = strconv.AppendFloat(d.arena, math.Float64frombits(u), 'g', -1, 64)
	}
	return d.arena[start:], true, nil
}

// attrField notes a data point's attribute field (at pos, its value in b).
func attrField(b []byte, pos, tag int, run *attrRun) (int, error) {
	_, n := remote.ConsumeBytes(b)
	if n < 0 {
		return n, wireError("data point attribute", n)
	}
	run.note(pos, pos+tag+n)
	return n, nil
}

// attributes sets d.cur for the data point's attributes: fields attrNum of
// point, where run says.
func (d *Decoder) attributes(point []byte, run *attrRun, attrNum protowire.Number) error {
	var raw []byte
	s := &d.split
	if !run.split {
		raw = point[run.start:run.end]
		if c := d.sets.get(raw); c != nil {
			d.cur = c
			return nil
		}
		s = &attrSet{}
	}
	// Not seen before: the KeyValue messages, from the run (or the whole
	// point if other fields are between them).
	d.kvs = d.kvs[:0]
	from := point[run.start:run.end]
	for len(from) > 0 {
		num, typ, n := remote.ConsumeTag(from) // read before
		from = from[n:]
		if num == attrNum && typ == protowire.BytesType {
			kv, n := remote.ConsumeBytes(from)
			d.kvs = append(d.kvs, kv)
			from = from[n:]
			continue
		}
		from = from[protowire.ConsumeFieldValue(num, typ, from):]
	}
	d.attrs, d.arena = d.attrs[:0], d.arena[:0]
	for _, kv := range d.kvs {
		a, err := d.keyValue(kv, levelPointAttr)
		if err != nil {
			return err
		}
		d.attrs = append(d.attrs, a)
	}
	s.pairs, s.n, s.nameErr, s.limitErr = s.pairs[:0], len(d.attrs), nil, nil
	for i := range d.attrs {
		ln, err := d.labelName(d.attrs[i].key)
		if err != nil {
			s.nameErr = fmt.Errorf("attribute %q: %v", d.attrs[i].key, err)
			break
		}
		d.attrs[i].name = ln
	}
	if s.nameErr == nil {
		for _, a := range d.attrs {
			if err := d.Limits.CheckLabel(a.name, a.value); err != nil && s.limitErr == nil {
				s.limitErr = err
			}
			s.pairs = ingest.AppendPair(s.pairs, a.name, a.value)
		}
	}
	if !run.split {
		d.sets.put(raw, s)
	}
	d.cur = s
	return nil
}

// exemplar checks an exemplar (they are not stored).
func exemplar(b []byte) (int, error) {
	ex, n := remote.ConsumeBytes(b)
	if n < 0 {
		return n, wireError("data point exemplar", n)
	}
	return n, validate(ex, descExemplar, levelPointAttr)
}

// fixed64 reads a fixed64 value.
func fixed64(b []byte) (uint64, int) {
	if len(b) < 8 {
		return 0, -1
	}
	return binary.LittleEndian.Uint64(b), 8
}

func (d *Decoder) numberPoint(w Writer, name, b []byte, st *Stats) error {
	var run attrRun
	orig := b
	var (
		t, u  uint64
		v     float64
		flags uint32
		err   error
	)
	for len(b) > 0 {
		pos := len(orig) - len(b)
		if len(b) > 1 && b[0] == 7<<3|2 && b[1] < 0x80 {
			// An attribute of a one-byte length, as most are: skipped
			// here, read in attributes if its run is not cached.
			n := 2 + int(b[1])
			if n > len(b) {
				return wireError("data point attribute", -1)
			}
			run.note(pos, pos+n)
			b = b[n:]
			continue
		}
		num, typ, n := remote.ConsumeTag(b)
		if n < 0 {
			return wireError("NumberDataPoint", n)
		}
		b = b[n:]
		switch {
		case typ == protowire.Fixed64Type && (num == 3 || num == 4 || num == 6):
			u, n = fixed64(b)
			switch num {
			case 3:
				t = u
			case 4:
				v = math.Float64frombits(u)
			default:
				v = float64(int64(u))
			}
		case num == 7 && typ == protowire.BytesType:
			if n, err = attrField(b, pos, n, &run); err != nil {
				return err
			}
		case num == 8 && typ == protowire.VarintType:
			u, n = protowire.ConsumeVarint(b)
			flags = uint32(u)
		case num == 5 && typ == protowire.BytesType:
			if n, err = exemplar(b); err != nil {
				return err
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return wireError(fmt.Sprintf("NumberDataPoint field %d", num), n)
		}
		b = b[n:]
	}
	if err := d.attributes(orig, &run, 7); err != nil {
		return err
	}
	if err := d.prepareWire(name, false); err != nil {
		st.reject(1, err)
		return nil
	}
	d.addWire(w, name, nil, nil, millis(t), value(v, flags), st)
	return nil
}

// aggPoint is what histogram and summary data points share.
type aggPoint struct {
	t, count uint64
	sum      float64
	flags    uint32
	run      attrRun
}

// readAggPoint reads a histogram's or a summary's data point: the fields
// they share (time 3, count 4, sum 5, and attrs, flags, exemplars, whose
// numbers differ) here, the others by field, which reports whether it took
// the field and its length.
func (d *Decoder) readAggPoint(b []byte, what string, attrs, flags, exemplars protowire.Number,
	field func(num protowire.Number, typ protowire.Type, b []byte) (n int, ok bool, err error)) (aggPoint, error) {
	var p aggPoint
	attrTag := byte(attrs)<<3 | byte(protowire.BytesType)
	orig := b
	for len(b) > 0 {
		pos := len(orig) - len(b)
		if len(b) > 1 && b[0] == attrTag && b[1] < 0x80 {
			n := 2 + int(b[1]) // as in numberPoint
			if n > len(b) {
				return p, wireError("data point attribute", -1)
			}
			p.run.note(pos, pos+n)
			b = b[n:]
			continue
		}
		num, typ, n := remote.ConsumeTag(b)
		if n < 0 {
			return p, wireError(what, n)
		}
		b = b[n:]
		var (
			u   uint64
			ok  bool
			err error
		)
		switch {
		case typ == protowire.Fixed64Type && num >= 3 && num <= 5:
			u, n = fixed64(b)
			switch num {
			case 3:
				p.t = u
			case 4:
				p.count = u
			default:
				p.sum = math.Float64frombits(u)
			}
		case num == attrs && typ == protowire.BytesType:
			n, err = attrField(b, pos, n, &p.run)
		case num == flags && typ == protowire.VarintType:
			u, n = protowire.ConsumeVarint(b)
			p.flags = uint32(u)
		case num == exemplars && typ == protowire.BytesType:
			n, err = exemplar(b)
		default:
			if n, ok, err = field(num, typ, b); !ok {
				n = protowire.ConsumeFieldValue(num, typ, b)
			}
		}
		if err != nil {
			return p, err
		}
		if n < 0 {
			return p, wireError(fmt.Sprintf("%s field %d", what, num), n)
		}
		b = b[n:]
	}
	return p, d.attributes(orig, &p.run, attrs)
}

func (d *Decoder) histogramPoint(w Writer, name, b []byte, st *Stats) error {
	d.counts, d.bounds = d.counts[:0], d.bounds[:0]
	p, err := d.readAggPoint(b, "HistogramDataPoint", 9, 10, 8, func(num protowire.Number, typ protowire.Type, b []byte) (n int, ok bool, err error) {
		if (num != 6 && num != 7) || (typ != protowire.Fixed64Type && typ != protowire.BytesType) {
			return 0, false, nil
		}
		if num == 6 {
			d.counts, n = remote.ConsumeFixed64s(b, typ, d.counts)
		} else {
			d.bounds, n = remote.ConsumeFixed64s(b, typ, d.bounds)
		}
		return n, true, nil
	})
	if err != nil {
		return err
	}
	counts, bounds := d.counts, d.bounds
	if len(counts) != 0 && len(counts) != len(bounds)+1 {
		st.reject(1, fmt.Errorf("histogram %s: %d bucket counts for %d bounds, want bounds+1", name, len(counts), len(bounds)))
		return nil
	}
	d.name = append(append(d.name[:0], name...), "_bucket"...)
	if err := d.prepareWire(d.name, true); err != nil {
		st.reject(1, err)
		return nil
	}
	ms := millis(p.t)
	var cum uint64
	for i, bound := range bounds {
		if i < len(counts) {
			cum += counts[i]
		}
		d.le = strconv.AppendFloat(d.le[:0], math.Float64frombits(bound), 'f', -1, 64)
		d.addWire(w, d.name, leLabel, d.le, ms, value(float64(cum), p.flags), st)
	}
	d.addWire(w, d.name, leLabel, infValue, ms, value(float64(p.count), p.flags), st)
	d.sumAndCount(w, name, &p, st)
	return nil
}

// sumAndCount adds the _sum and _count series of a histogram or summary.
func (d *Decoder) sumAndCount(w Writer, name []byte, p *aggPoint, st *Stats) {
	ms := millis(p.t)
	d.name = append(append(d.name[:0], name...), "_sum"...)
	d.addWire(w, d.name, nil, nil, ms, value(p.sum, p.flags), st)
	d.name = append(append(d.name[:0], name...), "_count"...)
	d.addWire(w, d.name, nil, nil, ms, value(float64(p.count), p.flags), st)
}

func (d *Decoder) summaryPoint(w Writer, name, b []byte, st *Stats) error {
	d.quants = d.quants[:0]
	p, err := d.readAggPoint(b, "SummaryDataPoint", 7, 8, 0, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool, error) {
		if num != 6 || typ != protowire.BytesType {
			return 0, false, nil
		}
		q, n := remote.ConsumeBytes(b)
		if n < 0 {
			return n, true, nil
		}
		return n, true, d.valueAtQuantile(q)
	})
	if err != nil {
		return err
	}
	d.name = append(append(d.name[:0], name...), "_count"...)
	if err := d.prepareWire(d.name, true); err != nil {
		st.reject(1, err)
		return nil
	}
	ms := millis(p.t)
	for _, q := range d.quants {
		d.le = strconv.AppendFloat(d.le[:0], q.q, 'f', -1, 64)
		d.addWire(w, name, quantileLabel, d.le, ms, value(q.v, p.flags), st)
	}
	d.sumAndCount(w, name, &p, st)
	return nil
}

func (d *Decoder) valueAtQuantile(b []byte) error {
	var q quantile
	for len(b) > 0 {
		num, typ, n := remote.ConsumeTag(b)
		if n < 0 {
			return wireError("ValueAtQuantile", n)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.Fixed64Type {
			var u uint64
			u, n = fixed64(b)
			if num == 1 {
				q.q = math.Float64frombits(u)
			} else {
				q.v = math.Float64frombits(u)
			}
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return wireError(fmt.Sprintf("ValueAtQuantile field %d", num), n)
		}
		b = b[n:]
	}
	d.quants = append(d.quants, q)
	return nil
}

// expHistogramPoint takes an exponential histogram through the generated
// type (they are few, and become a native histogram of many allocations
// anyway).
func (d *Decoder) expHistogramPoint(name, b []byte, st *Stats) error {
	p := &metrics.ExponentialHistogramDataPoint{}
	if err := (proto.UnmarshalOptions{RecursionLimit: maxLevel + 1 - levelPoint}).Unmarshal(b, p); err != nil {
		return invalid("ExponentialHistogramDataPoint: %v", err)
	}
	if !d.baseSynced {
		d.base = d.base[:0]
		if len(d.job) > 0 {
			d.base = append(d.base, label{"job", string(d.job)})
		}
		if len(d.instance) > 0 {
			d.base = append(d.base, label{"instance", string(d.instance)})
		}
		d.baseSynced = true
	}
	d.nativeHistogram(string(name), p, st)
	return nil
}

// prepareWire is prepare for the wire decoder: the checks of the data
// point's labels (the resource's, d.cur's), in the order prepare makes
// them.
func (d *Decoder) prepareWire(name []byte, extra bool) error {
	c := d.cur
	if c.nameErr != nil {
		return c.nameErr
	}
	n := d.nbase + c.n + 1
	if extra {
		n++
	}
	if err := d.Limits.CheckLabels(n); err != nil {
		return err
	}
	if err := d.Limits.CheckLabel(nameLabel, name); err != nil {
		return err
	}
	if d.baseErr != nil {
		return d.baseErr
	}
	return c.limitErr
}

// addWire is add for the wire decoder: one series (the name, the
// resource's labels and d.cur's, and an optional extra label) and its
// sample.
func (d *Decoder) addWire(w Writer, name, extraName, extraValue []byte, t int64, v float64, st *Stats) {
	d.key = ingest.AppendPair(d.key[:0], nameLabel, name)
	d.key = append(append(d.key, d.basePairs...), d.cur.pairs...)
	if extraName != nil {
		d.key = ingest.AppendPair(d.key, extraName, extraValue)
	}
	w.Series(ingest.Pairs, d.key)
	w.Add(nil, t, v)
	st.Samples++
}
