package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	lp "github.com/influxdata/line-protocol/v2/lineprotocol"
	promhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/ingest"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

type fixture struct {
	sink *ingest.MemorySink
	p    *ingest.Pipeline
	h    *HTTP
	url  string
}

func newFixture(t *testing.T, sink ingest.Sink, o Options, po ingest.Options) *fixture {
	t.Helper()
	p, err := ingest.New(sink, po)
	if err != nil {
		t.Fatal(err)
	}
	o.Now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	h := NewHTTP(p, o)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); p.Close() })
	ms, _ := sink.(*ingest.MemorySink)
	return &fixture{sink: ms, p: p, h: h, url: srv.URL}
}

type response struct {
	code   int
	body   string
	header http.Header
}

func post(t *testing.T, url, ct string, body []byte, header ...string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func samples(ss ...int64) []model.Sample {
	var out []model.Sample
	for i := 0; i < len(ss); i += 2 {
		out = append(out, model.Sample{T: ss[i], V: float64(ss[i+1])})
	}
	return out
}

func expect(t *testing.T, got map[string][]model.Sample, want map[string][]model.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("stored %v\nwant %v", got, want)
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s = %v, want %v", k, g, w)
		}
		for i := range w {
			if g[i].T != w[i].T || math.Float64bits(g[i].V) != math.Float64bits(w[i].V) {
				t.Fatalf("%s = %v, want %v", k, g, w)
			}
		}
	}
}

// influxBody encodes lines with InfluxData's own encoder (line-protocol
// v2), at precision p: an independent writer of what Telegraf sends.
func influxBody(t *testing.T, p lp.Precision, escapes bool) []byte {
	var enc lp.Encoder
	enc.SetPrecision(p)
	meas, host := "cpu", "server1"
	if escapes {
		meas, host = "cpu load", "a,b=c d"
	}
	for i := range 3 {
		enc.StartLine(meas)
		enc.AddTag("host", host)
		enc.AddTag("region", "eu-west")
		enc.AddField("usage_idle", lp.MustNewValue(float64(i)+0.5))
		enc.AddField("usage_user", lp.MustNewValue(int64(58+i)))
		enc.AddField("note", lp.MustNewValue("a string, \"quoted\""))
		enc.AddField("ok", lp.MustNewValue(i%2 == 0))
		enc.EndLine(time.Unix(1_700_000_000+int64(i)*10, 0))
	}
	if err := enc.Err(); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), enc.Bytes()...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestInflux: bodies written by InfluxData's encoder (escapes, all field
// types, every precision, gzip) over /write and /api/v2/write are stored
// as <measurement>_<field>{tags}; strings are skipped.
func TestInflux(t *testing.T) {
	for _, c := range []struct {
		path    string
		prec    lp.Precision
		param   string
		gzip    bool
		escapes bool
	}{
		{"/write?db=telegraf", lp.Nanosecond, "", false, false},
		{"/write?db=telegraf&precision=s", lp.Second, "", true, true},
		{"/write?db=telegraf&precision=u", lp.Microsecond, "", false, false},
		{"/api/v2/write?org=o&bucket=b&precision=ms", lp.Millisecond, "", true, false},
		{"/api/v2/write?org=o&bucket=b&precision=us", lp.Microsecond, "", false, true},
		{"/api/v2/write?org=o&bucket=b", lp.Nanosecond, "", false, false},
	} {
		f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
		body := influxBody(t, c.prec, c.escapes)
		var hdr []string
		if c.gzip {
			body, hdr = gz(body), []string{"Content-Encoding", "gzip"}
		}
		if r := post(t, f.url+c.path, "text/plain; charset=utf-8", body, hdr...); r.code != 204 {
			t.Fatalf("%s: %d %s", c.path, r.code, r.body)
		}
		name, tags := "cpu", `host="server1",region="eu-west"`
		if c.escapes {
			name, tags = "cpu_load", `host="a,b=c d",region="eu-west"`
		}
		const t0 = 1_700_000_000_000
		expect(t, f.sink.Series(), map[string][]model.Sample{
			name + "_usage_idle{" + tags + "}": {{T: t0, V: 0.5}, {T: t0 + 10_000, V: 1.5}, {T: t0 + 20_000, V: 2.5}},
			name + "_usage_user{" + tags + "}": samples(t0, 58, t0+10_000, 59, t0+20_000, 60),
			name + "_ok{" + tags + "}":         samples(t0, 1, t0+10_000, 0, t0+20_000, 1),
		})
		if n := f.h.StringFieldsSkipped.Load(); n != 3 {
			t.Errorf("%d string fields skipped, want 3", n)
		}
	}
}

// TestInfluxErrors: InfluxDB's answers: a partial write keeps the good
// lines and names the bad one (v1 {"error"}, v2 {"code","message"}); a
// body over the limit is 413 naming the limit; a bad precision is 400.
func TestInfluxErrors(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{Limits: ingest.Limits{MaxBodyBytes: 200, MaxLineBytes: 60}}, ingest.Options{})
	body := "m v=1 1000\nm v=oops 2000\nm,host=" + strings.Repeat("x", 60) + " v=2 3000\nm v=3 4000\n"
	r := post(t, f.url+"/api/v2/write?org=o&bucket=b&precision=ms", "text/plain", []byte(body))
	var v2 struct{ Code, Message string }
	json.Unmarshal([]byte(r.body), &v2)
	if r.code != 400 || v2.Code != "invalid" || !strings.Contains(v2.Message, "partial write: unable to parse 2 lines: line 2, column 5") || !strings.Contains(v2.Message, "dropped=2") {
		t.Fatalf("%d %s", r.code, r.body)
	}
	expect(t, f.sink.Series(), map[string][]model.Sample{"m_v": samples(1000, 1, 4000, 3)})
	r = post(t, f.url+"/write?db=x&precision=ms", "text/plain", []byte("m,host="+strings.Repeat("x", 60)+" v=2 3000\n"))
	var v1 struct{ Error string }
	json.Unmarshal([]byte(r.body), &v1)
	if r.code != 400 || !strings.Contains(v1.Error, "limit max-line-bytes (60) exceeded") {
		t.Fatalf("%d %s", r.code, r.body)
	}
	r = post(t, f.url+"/write?db=x", "text/plain", bytes.Repeat([]byte("m v=1\n"), 40))
	if r.code != 413 || !strings.Contains(r.body, "limit max-body-bytes (200) exceeded") {
		t.Fatalf("%d %s", r.code, r.body)
	}
	r = post(t, f.url+"/write?db=x", "text/plain", gz(bytes.Repeat([]byte("m v=1\n"), 40)), "Content-Encoding", "gzip")
	if r.code != 413 {
		t.Fatalf("gzip bomb: %d %s", r.code, r.body)
	}
	if r = post(t, f.url+"/write?db=x&precision=d", "text/plain", []byte("m v=1")); r.code != 400 {
		t.Fatalf("%d %s", r.code, r.body)
	}
}

// TestTextOnWrite: the guide's curl writes to /write in its own format.
func TestTextOnWrite(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	r := post(t, f.url+"/write", "text/plain", []byte("cpu_usage{host=\"server1\"} 0.75 1703001600\nmemory_usage{host=\"server1\"} 0.45\n"))
	if r.code != 200 || !strings.Contains(r.body, `"samples_written":2`) {
		t.Fatalf("%d %s", r.code, r.body)
	}
	expect(t, f.sink.Series(), map[string][]model.Sample{
		`cpu_usage{host="server1"}`:    {{T: 1703001600000, V: 0.75}},
		`memory_usage{host="server1"}`: {{T: 1_700_000_000_000, V: 0.45}},
	})
}

// TestRemoteWrite: 1.0 and 2.0 requests made with Prometheus's own types
// are stored; 2.0 answers with its headers; other messages are 415.
func TestRemoteWrite(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	v1 := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "a"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}, {Value: 0, Timestamp: 2000}},
	}}}
	b1, _ := v1.Marshal()
	if r := post(t, f.url+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, b1), "Content-Encoding", "snappy", "X-Prometheus-Remote-Write-Version", "0.1.0"); r.code != 204 {
		t.Fatalf("1.0: %d %s", r.code, r.body)
	}
	st := writev2.NewSymbolTable()
	v2 := &writev2.Request{Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{st.Symbolize("__name__"), st.Symbolize("up"), st.Symbolize("job"), st.Symbolize("b")},
		Samples:    []writev2.Sample{{Value: 5, Timestamp: 3000}},
		Histograms: []writev2.Histogram{{Timestamp: 3000}},
	}}}
	v2.Symbols = st.Symbols()
	b2, _ := v2.Marshal()
	r := post(t, f.url+"/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v2.Request", snappy.Encode(nil, b2), "Content-Encoding", "snappy")
	if r.code != 204 || r.header.Get(HeaderSamplesWritten) != "1" || r.header.Get(HeaderHistogramsWritten) != "0" || r.header.Get(HeaderExemplarsWritten) != "0" {
		t.Fatalf("2.0: %d %s %v", r.code, r.body, r.header)
	}
	expect(t, f.sink.Series(), map[string][]model.Sample{`up{job="a"}`: samples(1000, 1, 2000, 0), `up{job="b"}`: samples(3000, 5)})
	if f.h.HistogramsDropped.Load() != 1 {
		t.Errorf("histograms dropped: %d", f.h.HistogramsDropped.Load())
	}
	js := `{"timeseries":[{"labels":[{"name":"__name__","value":"up"},{"name":"job","value":"c"}],"samples":[{"timestamp":4000,"value":"7"},{"timestamp":5000,"value":8}]}]}`
	if r := post(t, f.url+"/api/v1/write", "application/json", []byte(js)); r.code != 204 {
		t.Fatalf("JSON: %d %s", r.code, r.body)
	}
	expect(t, f.sink.Series(), map[string][]model.Sample{`up{job="a"}`: samples(1000, 1, 2000, 0), `up{job="b"}`: samples(3000, 5), `up{job="c"}`: samples(4000, 7, 5000, 8)})
	for _, c := range []struct{ ct, enc string }{{"application/x-protobuf;proto=io.prometheus.write.v3.Request", "snappy"}, {"text/plain", ""}, {"application/x-protobuf", "zstd"}} {
		if r := post(t, f.url+"/api/v1/write", c.ct, snappy.Encode(nil, b1), "Content-Encoding", c.enc); r.code != 415 {
			t.Errorf("%s %s: %d %s", c.ct, c.enc, r.code, r.body)
		}
	}
	if r := post(t, f.url+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, []byte{0x0a, 0x7f})); r.code != 400 {
		t.Errorf("garbage: %d", r.code)
	}
	many := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "a", Value: strings.Repeat("v", 5000)}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}}}}
	bm, _ := many.Marshal()
	if r := post(t, f.url+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, bm)); r.code != 400 || !strings.Contains(r.body, "max-label-value-bytes (4096)") {
		t.Errorf("over a limit: %d %s", r.code, r.body)
	}
}

func otlpRequest(delta bool) *colmetrics.ExportMetricsServiceRequest {
	temp := metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	if delta {
		temp = metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	}
	return &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: []*metrics.Metric{
		{Name: "requests", Data: &metrics.Metric_Sum{Sum: &metrics.Sum{IsMonotonic: true, AggregationTemporality: temp, DataPoints: []*metrics.NumberDataPoint{
			{TimeUnixNano: 5e9, Value: &metrics.NumberDataPoint_AsInt{AsInt: 3}}}}}},
	}}}}}}
}

// TestOTLPHTTP: protobuf and JSON requests are stored and answered in
// their encoding; a delta sum is a partial success naming the reason.
func TestOTLPHTTP(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	pb, _ := proto.Marshal(otlpRequest(false))
	if r := post(t, f.url+"/api/v1/otlp/v1/metrics", "application/x-protobuf", pb); r.code != 200 || r.header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("%d %s", r.code, r.body)
	}
	js, _ := protojson.Marshal(otlpRequest(true))
	r := post(t, f.url+"/api/v1/otlp/v1/metrics", "application/json", gz(js), "Content-Encoding", "gzip")
	var resp colmetrics.ExportMetricsServiceResponse
	if err := protojson.Unmarshal([]byte(r.body), &resp); err != nil || r.code != 200 {
		t.Fatalf("%d %s %v", r.code, r.body, err)
	}
	if ps := resp.GetPartialSuccess(); ps.GetRejectedDataPoints() != 1 || !strings.Contains(ps.GetErrorMessage(), "delta temporality") {
		t.Fatalf("partial success %v", ps)
	}
	expect(t, f.sink.Series(), map[string][]model.Sample{"requests_total": samples(5000, 3)})
	if r := post(t, f.url+"/api/v1/otlp/v1/metrics", "text/plain", pb); r.code != 415 {
		t.Fatalf("%d", r.code)
	}
}

// grpcClient serves f's gRPC server and returns a client connected to it.
func grpcClient(t *testing.T, f *fixture) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := f.h.GRPC()
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestOTLPGRPC: the collector's gRPC client exports into the pipeline.
func TestOTLPGRPC(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	conn := grpcClient(t, f)
	resp, err := colmetrics.NewMetricsServiceClient(conn).Export(context.Background(), otlpRequest(false))
	if err != nil || resp.GetPartialSuccess() != nil {
		t.Fatalf("%v %v", resp, err)
	}
	expect(t, f.sink.Series(), map[string][]model.Sample{"requests_total": samples(5000, 3)})
}

// TestOTLPGRPCOverBodyLimit: an Export over MaxBodyBytes is refused by
// gRPC as it arrives, RESOURCE_EXHAUSTED with its own message giving both
// sizes (the README's limits table says so), and nothing is stored; one
// under it goes through.
func TestOTLPGRPCOverBodyLimit(t *testing.T) {
	small := otlpRequest(false)
	limit := int64(proto.Size(small))
	f := newFixture(t, ingest.NewMemorySink(), Options{Limits: ingest.Limits{MaxBodyBytes: limit}}, ingest.Options{})
	conn := grpcClient(t, f)
	over := proto.Clone(small).(*colmetrics.ExportMetricsServiceRequest)
	over.ResourceMetrics = append(over.ResourceMetrics, over.ResourceMetrics...)
	_, err := colmetrics.NewMetricsServiceClient(conn).Export(context.Background(), over)
	want := fmt.Sprintf("larger than max (%d vs. %d)", proto.Size(over), limit)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), want) {
		t.Fatalf("an Export of %d bytes over a limit of %d: %v, want RESOURCE_EXHAUSTED %q", proto.Size(over), limit, err, want)
	}
	if n := len(f.sink.Series()); n != 0 {
		t.Fatalf("%d series stored from a refused Export", n)
	}
	if _, err := colmetrics.NewMetricsServiceClient(conn).Export(context.Background(), small); err != nil {
		t.Fatalf("an Export of exactly the limit: %v", err)
	}
}

// rawBytes is a gRPC client codec that sends bytes as they are: a
// request the generated client could not make.
type rawBytes struct{}

func (rawBytes) Name() string { return "proto" }
func (rawBytes) Marshal(v any) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return proto.Marshal(v.(proto.Message))
}
func (rawBytes) Unmarshal(b []byte, v any) error { return proto.Unmarshal(b, v.(proto.Message)) }

// TestOTLPDecodedOnTheWire: over HTTP protobuf and gRPC, a large request
// (many gRPC frames) is stored whole, and a damaged one is refused whole
// (400, INVALID_ARGUMENT) with nothing stored, though its first points
// decode.
func TestOTLPDecodedOnTheWire(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	conn := grpcClient(t, f)

	big := func(name string) *colmetrics.ExportMetricsServiceRequest {
		g := &metrics.Gauge{}
		for i := range 5000 {
			g.DataPoints = append(g.DataPoints, &metrics.NumberDataPoint{TimeUnixNano: uint64(i+1) * 1e6, Value: &metrics.NumberDataPoint_AsDouble{AsDouble: float64(i)},
				Attributes: []*common.KeyValue{{Key: "host.name", Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: "a-rather-long-host-name-to-fill-frames"}}}}})
		}
		return &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: []*metrics.Metric{{Name: name, Data: &metrics.Metric_Gauge{Gauge: g}}}}}}}}
	}
	if _, err := colmetrics.NewMetricsServiceClient(conn).Export(context.Background(), big("grpc")); err != nil {
		t.Fatal(err)
	}
	pb, _ := proto.Marshal(big("http"))
	if r := post(t, f.url+"/api/v1/otlp/v1/metrics", "application/x-protobuf", pb); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	got := f.sink.Series()
	for _, name := range []string{"grpc", "http"} {
		if s := got[name+`{host_name="a-rather-long-host-name-to-fill-frames"}`]; len(s) != 5000 || s[4999] != (model.Sample{T: 5000, V: 4999}) {
			t.Fatalf("%s: %d samples", name, len(s))
		}
	}

	damaged := slices.Clone(pb)
	damaged[bytes.LastIndex(damaged, []byte("a-rather"))] = 0xff // the last point's attribute: not UTF-8
	var resp colmetrics.ExportMetricsServiceResponse
	err := conn.Invoke(context.Background(), colmetrics.MetricsService_Export_FullMethodName, &damaged, &resp, grpc.ForceCodec(rawBytes{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("gRPC: %v", err)
	}
	if r := post(t, f.url+"/api/v1/otlp/v1/metrics", "application/x-protobuf", damaged); r.code != 400 || !strings.Contains(r.body, "invalid request") {
		t.Fatalf("HTTP: %d %s", r.code, r.body)
	}
	// A request after them is stored alone: nothing of the damaged ones
	// reached the sink.
	if r := post(t, f.url+"/api/v1/otlp/v1/metrics", "application/x-protobuf", mustMarshal(otlpRequest(false))); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if got := f.sink.Series(); len(got) != 3 || len(got[`http{host_name="a-rather-long-host-name-to-fill-frames"}`]) != 5000 {
		t.Fatalf("%d series", len(got))
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// stuck is a sink that blocks until released.
type stuck struct {
	*ingest.MemorySink
	once    sync.Once
	open    chan struct{}
	entered chan struct{}
}

func newStuck() *stuck {
	return &stuck{MemorySink: ingest.NewMemorySink(), open: make(chan struct{}), entered: make(chan struct{}, 100)}
}
func (s *stuck) Write(b *ingest.Batch) error {
	s.entered <- struct{}{}
	<-s.open
	return s.MemorySink.Write(b)
}
func (s *stuck) release() { s.once.Do(func() { close(s.open) }) }

// TestBackpressureHTTPAndTCP: with the sink stuck and the queue full, a
// Reject listener answers 429 with Retry-After over HTTP and `ERR
// backpressure` over TCP; once the sink moves, writes go through.
func TestBackpressureHTTPAndTCP(t *testing.T) {
	s := newStuck()
	f := newFixture(t, s, Options{Backpressure: ingest.Reject}, ingest.Options{Receivers: 1, Flushers: 1, BatchSize: 1, QueueSize: 2, MaxPending: 100})
	t.Cleanup(s.release)
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for i := range 3 { // one in the sink, two fill the queue
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- post(t, f.url+"/write?db=x", "text/plain", []byte(fmt.Sprintf("m v=%d %d", i, i))).code
		}()
		if i == 0 {
			<-s.entered
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.p.Stats().Queued < 2 {
		if time.Now().After(deadline) {
			t.Fatal("queue did not fill")
		}
		time.Sleep(time.Millisecond)
	}
	r := post(t, f.url+"/write?db=x", "text/plain", []byte("m v=9 9"))
	if r.code != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("%d %s %v", r.code, r.body, r.header)
	}
	tcp := NewTCP(f.p, Options{Backpressure: ingest.Reject})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go tcp.Serve(ln)
	t.Cleanup(func() { ln.Close(); tcp.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "m v=7 7\nm v=8 8\n")
	br := bufio.NewReader(c)
	for range 2 {
		if line, _ := br.ReadString('\n'); line != "ERR backpressure\n" {
			t.Fatalf("TCP reply %q", line)
		}
	}
	s.release()
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 204 {
			t.Fatalf("queued write answered %d", c)
		}
	}
	fmt.Fprintf(c, "m v=7 7\n")
	if line, _ := br.ReadString('\n'); line != "OK\n" {
		t.Fatalf("TCP reply after the sink moved: %q", line)
	}
	if got := s.Series()["m_v"]; len(got) != 4 {
		t.Fatalf("stored %v", got)
	}
}

// TestTCP: the guide's nc session, and a burst with a bad line and a line
// over the limit: one reply per line, in order.
func TestTCP(t *testing.T) {
	sink := ingest.NewMemorySink()
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tcp := NewTCP(p, Options{Limits: ingest.Limits{MaxLineBytes: 100}})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go tcp.Serve(ln)
	defer func() { ln.Close(); tcp.Close() }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "cpu,host=server1 usage=0.75 1703001600000000000\n")
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "OK\n" {
		t.Fatalf("reply %q", line)
	}
	burst := "cpu,host=a usage=1 1000000000\n" + "cpu,host=a usage= 2000000000\n" + "cpu,host=" + strings.Repeat("z", 120) + " usage=1\n" + "\n# comment\n" + "cpu,host=a usage=3 3000000000\n"
	c.Write([]byte(burst))
	c.(*net.TCPConn).CloseWrite()
	var replies []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		replies = append(replies, strings.TrimSuffix(line, "\n"))
	}
	// Blank and comment lines are answered too (nothing to store): one
	// reply per line sent.
	// Line numbers count from the connection's first line, however the
	// reads cut it.
	want := []string{"OK", "ERR line 3, column 18: expected a field value, got ' '", "ERR limit max-line-bytes (100) exceeded by a line", "OK", "OK", "OK"}
	if len(replies) != len(want) {
		t.Fatalf("replies %q, want %q", replies, want)
	}
	for i := range want {
		if !strings.HasPrefix(replies[i], want[i]) {
			t.Fatalf("reply %d %q, want %q", i, replies[i], want[i])
		}
	}
	expect(t, sink.Series(), map[string][]model.Sample{
		`cpu_usage{host="server1"}`: {{T: 1703001600000, V: 0.75}},
		`cpu_usage{host="a"}`:       {{T: 1000, V: 1}, {T: 3000, V: 3}},
	})
}

// TestTelegrafRequestShapes: the requests Telegraf's influxdb and
// influxdb_v2 outputs send with telegraf.conf (Telegraf itself is not in
// Debian and too large to build here): POST /write?db=telegraf and POST
// /api/v2/write?bucket=telegraf&org=demo, no precision (nanoseconds),
// text/plain, gzip, a User-Agent and (v2) a token the server ignores.
func TestTelegrafRequestShapes(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	body := "cpu,cpu=cpu-total,host=h1 usage_idle=97.5,usage_user=1.25 1703001600000000000\nmem,host=h1 used=123456789i,used_percent=42.5,available=1u 1703001600000000000\n"
	for _, c := range []struct{ path, auth string }{{"/write?db=telegraf", ""}, {"/api/v2/write?bucket=telegraf&org=demo", "Token unused"}} {
		hdr := []string{"Content-Encoding", "gzip", "User-Agent", "Telegraf/1.34.0 Go/1.24.2"}
		if c.auth != "" {
			hdr = append(hdr, "Authorization", c.auth)
		}
		if r := post(t, f.url+c.path, "text/plain; charset=utf-8", gz([]byte(body)), hdr...); r.code != 204 {
			t.Fatalf("%s: %d %s", c.path, r.code, r.body)
		}
	}
	got := f.sink.Series()
	for _, name := range []string{`cpu_usage_idle{cpu="cpu-total",host="h1"}`, `mem_used{host="h1"}`, `mem_available{host="h1"}`} {
		if s := got[name]; len(s) != 2 || s[1].T != 1703001600000 { // once per request (the memory sink keeps both)
			t.Errorf("%s: %v", name, s)
		}
	}
}

// TestNativeHistogramsStored: with a histogram sink (stage06's, as the
// program's server sets it), remote write 1.0 and 2.0 histograms and an
// OTLP exponential histogram are stored, after the request's floats, and
// the 2.0 answer counts them; an invalid histogram is refused in a 400.
func TestNativeHistogramsStored(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sink := ingest.NewBlocksSink(db)
	f := newFixture(t, sink, Options{Histograms: sink}, ingest.Options{})
	// Schema 1: bucket i holds (2^((i-1)/2), 2^(i/2)], so buckets 0 and 1
	// are (0.707…, 1] and (1, 1.414…].
	ph := func(k uint64) promhist.Histogram {
		return promhist.Histogram{Schema: 1, Count: 3 * k, Sum: 1.5 * float64(k), ZeroThreshold: 0.001,
			PositiveSpans: []promhist.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{int64(k), int64(k)}}
	}
	h1, h2 := ph(1), ph(2)
	v1 := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:     []prompb.Label{{Name: "__name__", Value: "lat"}, {Name: "job", Value: "a"}},
		Samples:    []prompb.Sample{{Value: 1, Timestamp: 500}},
		Histograms: []prompb.Histogram{prompb.FromIntHistogram(1000, &h1), prompb.FromIntHistogram(2000, &h2)},
	}}}
	b1, _ := v1.Marshal()
	if r := post(t, f.url+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, b1), "Content-Encoding", "snappy"); r.code != 204 {
		t.Fatalf("1.0: %d %s", r.code, r.body)
	}
	st := writev2.NewSymbolTable()
	v2 := &writev2.Request{Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{st.Symbolize("__name__"), st.Symbolize("lat"), st.Symbolize("job"), st.Symbolize("b")},
		Histograms: []writev2.Histogram{writev2.FromFloatHistogram(0, 3000, h2.ToFloat(nil))},
	}}}
	v2.Symbols = st.Symbols()
	b2, _ := v2.Marshal()
	r := post(t, f.url+"/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v2.Request", snappy.Encode(nil, b2), "Content-Encoding", "snappy")
	if r.code != 204 || r.header.Get(HeaderHistogramsWritten) != "1" {
		t.Fatalf("2.0: %d %s %v", r.code, r.body, r.header)
	}
	// OTLP: one observation of 3 at scale 0 is OTLP bucket 1, (2,4]: the
	// native histogram's bucket 2.
	req := &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: []*metrics.Metric{
		{Name: "rpc.lat", Data: &metrics.Metric_ExponentialHistogram{ExponentialHistogram: &metrics.ExponentialHistogram{
			AggregationTemporality: metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
			DataPoints: []*metrics.ExponentialHistogramDataPoint{{TimeUnixNano: 4e9, Count: 1, Sum: proto.Float64(3), Scale: 0,
				Positive: &metrics.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: []uint64{1}}}}}}},
	}}}}}}
	body, _ := proto.Marshal(req)
	if r := post(t, f.url+"/api/v1/otlp/v1/metrics", "application/x-protobuf", body); r.code != 200 || strings.Contains(r.body, "rejected") {
		t.Fatalf("otlp: %d %s", r.code, r.body)
	}
	// An invalid histogram (its span covers 2 buckets, 1 given) is refused.
	bad := ph(1)
	bad.PositiveBuckets = bad.PositiveBuckets[:1]
	v1.Timeseries[0].Samples, v1.Timeseries[0].Histograms = nil, []prompb.Histogram{prompb.FromIntHistogram(9000, &bad)}
	b1, _ = v1.Marshal()
	if r := post(t, f.url+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, b1), "Content-Encoding", "snappy"); r.code != 400 || !strings.Contains(r.body, "1 of 1 samples refused") {
		t.Fatalf("invalid histogram: %d %s", r.code, r.body)
	}
	if n := f.h.HistogramsDropped.Load(); n != 0 {
		t.Fatalf("%d histograms dropped with a sink", n)
	}

	// What stage06 holds, read through its histogram iterator.
	q, err := db.Querier(0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := map[string][]string{}
	ss := q.Select(index.MustNewMatcher(index.MatchRegexp, "__name__", "lat|rpc_lat"))
	for ss.Next() {
		it := ss.At().Iterator(nil).(tsdb.HistogramIterator)
		for it.Next() {
			if it.Type() == tsdb.ValFloat {
				ts, v := it.At()
				got[ss.At().Labels().String()] = append(got[ss.At().Labels().String()], fmt.Sprintf("%d:%g", ts, v))
				continue
			}
			ts, fh := it.AtFloatHistogram(nil)
			got[ss.At().Labels().String()] = append(got[ss.At().Labels().String()], fmt.Sprintf("%d:%s", ts, fh))
		}
	}
	want := map[string][]string{
		`lat{job="a"}`: {"500:1", "1000:{count:3, sum:1.5, (0.7071067811865476,1]:1, (1,1.4142135623730951]:2}", "2000:{count:6, sum:3, (0.7071067811865476,1]:2, (1,1.4142135623730951]:4}"},
		`lat{job="b"}`: {"3000:{count:6, sum:3, (0.7071067811865476,1]:2, (1,1.4142135623730951]:4}"},
		`rpc_lat`:      {"4000:{count:1, sum:3, (2,4]:1}"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored:\n got %v\nwant %v", got, want)
	}
}
