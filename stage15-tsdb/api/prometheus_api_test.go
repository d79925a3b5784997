package api

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// TestJSONNumbers: sample values are written as Prometheus's JSON writes
// them: exponent form below 1e-6 and from 1e21, plain decimals between
// (expected strings written by hand from that rule).
func TestJSONNumbers(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	for in, want := range map[string]string{
		"3.29e-07":                "3.29e-07",
		"-3.29e-07":               "-3.29e-07",
		"0.000001":                "0.000001", // exactly 1e-6: plain
		"0.00000099":              "9.9e-07",
		"1e21":                    "1e+21",
		"-1e21":                   "-1e+21",
		"999999999999999900000":   "999999999999999900000", // just under 1e21
		"1.5e300":                 "1.5e+300",
		"123.25":                  "123.25",
		"0":                       "0",
		"Inf":                     "+Inf",
		"-Inf":                    "-Inf",
		"NaN":                     "NaN",
		"4.9406564584124654e-324": "5e-324",
	} {
		got := get(t, srv.URL+q("/api/v1/query", "query", in, "time", "1"))
		if w := `{"status":"success","data":{"resultType":"scalar","result":[1,"` + want + `"]}}`; got.body != w {
			t.Errorf("%s: %s, want %s", in, got.body, w)
		}
	}
}

// TestLookupLimit: limit on series, labels and label values cuts the
// sorted answer and says so with Prometheus's warning.
func TestLookupLimit(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	const trunc = `,"warnings":["results truncated due to limit"]}`
	for _, c := range []struct{ url, want string }{
		{q("/api/v1/series", "match[]", "x", "limit", "2"),
			`{"status":"success","data":[{"__name__":"x","inst":"a","method":"GET"},{"__name__":"x","inst":"a","method":"POST"}]` + trunc},
		{q("/api/v1/series", "match[]", "x", "limit", "3"),
			`{"status":"success","data":[{"__name__":"x","inst":"a","method":"GET"},{"__name__":"x","inst":"a","method":"POST"},{"__name__":"x","inst":"b","method":"GET"}]}`},
		{q("/api/v1/series", "match[]", "x", "limit", "0"), // 0: no limit
			`{"status":"success","data":[{"__name__":"x","inst":"a","method":"GET"},{"__name__":"x","inst":"a","method":"POST"},{"__name__":"x","inst":"b","method":"GET"}]}`},
		{q("/api/v1/labels", "limit", "1"), `{"status":"success","data":["__name__"]` + trunc},
		{q("/api/v1/labels", "limit", "3"), `{"status":"success","data":["__name__","inst","method"]}`},
		{q("/api/v1/label/method/values", "limit", "1"), `{"status":"success","data":["GET"]` + trunc},
		{q("/api/v1/label/inst/values", "limit", "2"), `{"status":"success","data":["a","b"]}`},
	} {
		if got := get(t, srv.URL+c.url); got.code != 200 || got.body != c.want {
			t.Errorf("%s:\n got %d %s\nwant %s", c.url, got.code, got.body, c.want)
		}
	}
	if got := get(t, srv.URL+q("/api/v1/labels", "limit", "-1")); got.code != 400 || !strings.Contains(got.body, "limit must be non-negative") {
		t.Errorf("negative limit: %d %s", got.code, got.body)
	}
}

// queryStats decodes the stats of a query answer.
type queryStatsJSON struct {
	Status string
	Data   struct {
		Stats *struct {
			Timings map[string]float64
			Samples struct {
				TotalQueryableSamples, SamplesRead, SeriesTouched, PeakSamples int64
			}
		}
	}
	Warnings []string
}

// TestQueryStats: stats=true adds Prometheus's stats object with the
// samples and series this query read; without it there is none.
func TestQueryStats(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	var r queryStatsJSON
	// x{inst="b"} over (20m, 30m] at a 1m step: the 10 samples at 21..30m.
	body := get(t, srv.URL+q("/api/v1/query", "query", `x{inst="b"}[10m]`, "time", "1800", "stats", "true")).body
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Data.Stats == nil {
		t.Fatalf("%v: %s", err, body)
	}
	st := r.Data.Stats
	for _, k := range []string{"evalTotalTime", "resultSortTime", "queryPreparationTime", "innerEvalTime", "execQueueTime", "execTotalTime"} {
		if v, ok := st.Timings[k]; !ok || v < 0 {
			t.Errorf("timings.%s = %v, %v", k, v, ok)
		}
	}
	if st.Timings["execTotalTime"] < st.Timings["innerEvalTime"] {
		t.Errorf("execTotalTime < innerEvalTime: %v", st.Timings)
	}
	if s := st.Samples; s.SamplesRead != 10 || s.TotalQueryableSamples != 10 || s.SeriesTouched != 1 || s.PeakSamples != 10 {
		t.Errorf("samples %+v, want 10 read, 1 series, 10 at the peak", s)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %v", r.Warnings)
	}
	// A range query reads each of the 3 series' samples once.
	r = queryStatsJSON{}
	body = get(t, srv.URL+q("/api/v1/query_range", "query", `sum(x)`, "start", "600", "end", "1200", "step", "60", "stats", "all")).body
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Data.Stats == nil || r.Data.Stats.Samples.SeriesTouched != 3 {
		t.Fatalf("range: %v %s", err, body)
	}
	// Other values work, with Prometheus's deprecation warning.
	r = queryStatsJSON{}
	body = get(t, srv.URL+q("/api/v1/query", "query", "1", "stats", "yes")).body
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Data.Stats == nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `value "yes" for parameter "stats" is deprecated`) {
		t.Fatalf("stats=yes: %s", body)
	}
	if body := get(t, srv.URL+q("/api/v1/query", "query", "x", "time", "60")).body; strings.Contains(body, "stats") {
		t.Errorf("stats without asking: %s", body)
	}
}

// TestFormatAndParseQuery: format_query pretty-prints as Prometheus does
// (compare/ checks stage10's Pretty against Prometheus itself), parse_query
// answers the tree in the shape of Prometheus's UI.
func TestFormatAndParseQuery(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	got := get(t, srv.URL+q("/api/v1/format_query", "query", `sum by(job)(rate(x{a="b"}[5m]))`))
	if want := `{"status":"success","data":"sum by (job) (rate(x{a=\"b\"}[5m]))"}`; got.body != want {
		t.Errorf("short: %s", got.body)
	}
	long := `histogram_quantile(0.99, sum by (le, job, instance, handler) (rate(http_request_duration_seconds_bucket{job="api-server"}[5m])))`
	var env struct{ Data string }
	r := post(t, srv.URL+"/api/v1/format_query", "application/x-www-form-urlencoded", []byte("query="+strings.ReplaceAll(long, "+", "%2B")))
	if err := json.Unmarshal([]byte(r.body), &env); err != nil {
		t.Fatal(err, r.body)
	}
	want := "histogram_quantile(\n" +
		"  0.99,\n" +
		"  sum by (le, job, instance, handler) (\n" +
		"    rate(http_request_duration_seconds_bucket{job=\"api-server\"}[5m])\n" +
		"  )\n" +
		")"
	if env.Data != want {
		t.Errorf("long:\n%s\nwant\n%s", env.Data, want)
	}

	var tree struct{ Data map[string]any }
	r = get(t, srv.URL+q("/api/v1/parse_query", "query", `-sum without (a) (x{b=~"c"} offset 1m) * on (d) group_left (e) y @ 10`))
	if err := json.Unmarshal([]byte(r.body), &tree); err != nil {
		t.Fatal(err, r.body)
	}
	b, _ := json.Marshal(tree.Data)
	for _, want := range []string{
		`"type":"binaryExpr"`, `"op":"*"`, `"card":"many-to-one"`, `"labels":["d"]`, `"include":["e"]`, `"on":true`,
		`"type":"unaryExpr"`, `"op":"-"`, `"type":"aggregation"`, `"grouping":["a"]`, `"without":true`,
		`"type":"vectorSelector"`, `"offset":60000`, `{"name":"b","type":"=~","value":"c"}`, `"timestamp":10000`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("tree lacks %s: %s", want, b)
		}
	}
}

// TestPrometheusStatusPages: config, flags, walreplay and runtimeinfo answer what
// the server was given.
func TestPrometheusStatusPages(t *testing.T) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	srv, _ := newTestAPI(t, Options{
		ConfigYAML: "listen: 127.0.0.1:9090\n", Flags: map[string]string{"web.enable-admin-api": "false"},
		WALReplay: func() WALReplayStatus { return WALReplayStatus{Min: 3, Max: 7, Current: 7} },
		StartTime: start, Retention: 15 * 24 * time.Hour,
	})
	for path, want := range map[string]string{
		"/api/v1/status/config":    `{"status":"success","data":{"yaml":"listen: 127.0.0.1:9090\n"}}`,
		"/api/v1/status/flags":     `{"status":"success","data":{"web.enable-admin-api":"false"}}`,
		"/api/v1/status/walreplay": `{"status":"success","data":{"min":3,"max":7,"current":7}}`,
	} {
		if got := get(t, srv.URL+path); got.body != want {
			t.Errorf("%s: %s", path, got.body)
		}
	}
	var ri struct{ Data map[string]any }
	got := get(t, srv.URL+"/api/v1/status/runtimeinfo")
	if err := json.Unmarshal([]byte(got.body), &ri); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for k, want := range map[string]any{
		"hostname": host, "serverTime": "1970-01-01T01:00:00Z", // the test clock
		"startTime": "2024-01-02T03:04:05Z", "lastConfigTime": "2024-01-02T03:04:05Z", "storageRetention": "15d",
		"reloadConfigSuccess": true, "corruptionCount": 0.0,
	} {
		if ri.Data[k] != want {
			t.Errorf("runtimeinfo %s = %v, want %v", k, ri.Data[k], want)
		}
	}
	for _, k := range []string{"CWD", "goroutineCount", "GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG"} {
		if _, ok := ri.Data[k]; !ok {
			t.Errorf("runtimeinfo lacks %s", k)
		}
	}
}

// TestGuidePaths: the guide's /query and /query_range answer as
// Prometheus's paths do.
func TestGuidePaths(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	for _, c := range [][2]string{
		{q("/query", "query", "rate(x[5m])", "time", "1800"), q("/api/v1/query", "query", "rate(x[5m])", "time", "1800")},
		{q("/query_range", "query", "x", "start", "0", "end", "600", "step", "60"), q("/api/v1/query_range", "query", "x", "start", "0", "end", "600", "step", "60")},
	} {
		guide, prom := get(t, srv.URL+c[0]), get(t, srv.URL+c[1])
		if guide.code != 200 || guide.body != prom.body || !strings.Contains(guide.body, `"result":[{`) {
			t.Errorf("%s: %d %s\n%s: %s", c[0], guide.code, guide.body, c[1], prom.body)
		}
	}
}

// TestGzip is in package server, which wraps the API in the compressor.

// TestFederate: /federate exposes the newest sample of each matching
// series within the lookback, as untyped families in the text format, with
// external labels and instance="" added where missing (expected text
// written by hand from Prometheus's rules).
func TestFederate(t *testing.T) {
	srv, db := newTestAPI(t, Options{ExternalLabels: model.MustFromStrings("cluster", "eu-1", "method", "ignored")})
	// More series: one whose newest sample is a staleness marker, one with
	// nothing in the last 5 minutes, one with its own instance label.
	extra := []prompbtest.Series{
		{Labels: [][2]string{{"__name__", "gone"}}, Samples: [][2]float64{{3_500_000, 1}, {3_560_000, staleNaN()}}},
		{Labels: [][2]string{{"__name__", "old"}}, Samples: [][2]float64{{3_000_000, 1}}},
		{Labels: [][2]string{{"__name__", "up"}, {"instance", "host:9100"}, {"job", "node"}}, Samples: [][2]float64{{3_590_000, 1}}},
	}
	if r := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, prompbtest.Marshal(t, extra, nil))); r.code != 204 {
		t.Fatal(r.body)
	}
	got := get(t, srv.URL+q("/federate", "match[]", `x{method="GET"}`, "match[]", `{__name__=~"x|gone|old|up"}`))
	want := `# TYPE up untyped
up{instance="host:9100",job="node",cluster="eu-1",method="ignored"} 1 3590000
# TYPE x untyped
x{inst="a",method="GET",cluster="eu-1",instance=""} 600 3600000
x{inst="a",method="POST",cluster="eu-1",instance=""} 60 3600000
x{inst="b",method="GET",cluster="eu-1",instance=""} 300 3600000`
	if got.code != 200 || got.body != want {
		t.Errorf("got %d\n%s\nwant\n%s", got.code, got.body, want)
	}
	// No match[]: nothing.
	if got := get(t, srv.URL+"/federate"); got.code != 200 || got.body != "" {
		t.Errorf("no match[]: %d %q", got.code, got.body)
	}
	_ = db
}

// TestSnapshotsAPI: snapshots are created, listed and deleted through the
// admin API.
func TestSnapshotsAPI(t *testing.T) {
	var dbp *tsdb.DB
	srv, db := newTestAPI(t, Options{EnableAdminAPI: true, Snapshot: func(withHead bool) (string, error) { return storage.Snapshot(dbp, withHead) }})
	dbp = db
	var names []string
	for _, skip := range []string{"false", "true"} {
		var env struct{ Data struct{ Name string } }
		r := post(t, srv.URL+q("/api/v1/admin/tsdb/snapshot", "skip_head", skip), "", nil)
		if err := json.Unmarshal([]byte(r.body), &env); err != nil || r.code != 200 || env.Data.Name == "" {
			t.Fatalf("snapshot: %d %s", r.code, r.body)
		}
		names = append(names, env.Data.Name)
	}
	// The roadmap's path takes one too.
	if r := post(t, srv.URL+"/api/v1/admin/snapshot", "", nil); r.code != 200 {
		t.Fatalf("roadmap path: %d %s", r.code, r.body)
	}
	var list struct {
		Data []struct {
			Name     string
			WithHead bool
			Bytes    int64
		}
	}
	r := get(t, srv.URL+"/api/v1/admin/tsdb/snapshots")
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Data) != 3 {
		t.Fatalf("list: %s", r.body)
	}
	byName := map[string]bool{}
	for _, s := range list.Data {
		byName[s.Name] = s.WithHead
	}
	if h, ok := byName[names[0]]; !ok || !h {
		t.Errorf("%s: listed %v, with head %v", names[0], ok, h)
	}
	if h, ok := byName[names[1]]; !ok || h {
		t.Errorf("%s (skip_head): listed %v, with head %v", names[1], ok, h)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/admin/tsdb/snapshots/"+names[0], nil)
	if r := do(t, req); r.code != 204 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if _, err := os.Stat(filepath.Join(db.Dir(), "snapshots", names[0])); !os.IsNotExist(err) {
		t.Errorf("deleted snapshot still on disk: %v", err)
	}
	if r := do(t, req); r.code != 404 {
		t.Errorf("second delete: %d", r.code)
	}
	r = get(t, srv.URL+"/api/v1/admin/tsdb/snapshots")
	if strings.Contains(r.body, names[0]) || !strings.Contains(r.body, names[1]) {
		t.Errorf("after delete: %s", r.body)
	}
}

func staleNaN() float64 { return promql.StaleNaN }

// TestQueryAnnotations: the engine's warnings and infos reach the answer
// beside "data", with Prometheus's texts and line:column positions (read
// off the query by hand), for instant and range queries; a query without
// any has neither key.
func TestQueryAnnotations(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	const info = `"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"x\" (1:6)"]`
	// x has no le label: the bucket warning follows the quantile's.
	const warning = `"warnings":["PromQL warning: quantile value should be between 0 and 1, got 2 (1:20)","PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\" (1:23)"`
	for _, c := range []struct {
		path  string
		kv    []string
		wants []string
	}{
		{"/api/v1/query", []string{"query", "rate(x[5m])", "time", "1200"}, []string{info}},
		{"/api/v1/query_range", []string{"query", "rate(x[5m])", "start", "600", "end", "1200", "step", "60"}, []string{info}},
		{"/api/v1/query", []string{"query", "histogram_quantile(2, x)", "time", "1200"}, []string{warning}},
		// The request's own warning follows the engine's.
		{"/api/v1/query", []string{"query", "histogram_quantile(2, x)", "time", "1200", "stats", "yes"},
			[]string{warning + `,"value \"yes\" for parameter \"stats\" is deprecated`}},
	} {
		body := get(t, srv.URL+q(c.path, c.kv...)).body
		for _, want := range c.wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s %v: lacks %s\n%s", c.path, c.kv, want, body)
			}
		}
	}
	for _, query := range []string{"rate(x_total[5m])", "sum(x)"} {
		if body := get(t, srv.URL+q("/api/v1/query", "query", query, "time", "1200")).body; strings.Contains(body, "infos") || strings.Contains(body, "warnings") {
			t.Errorf("%s: annotations where there are none: %s", query, body)
		}
	}
}

// TestParseQueryExtensions: parse_query answers the nodes of the language
// the engine's features allow (duration expressions, anchored and
// smoothed selectors, fill modifiers) in the shape of Prometheus's tree
// (web/api/v1/translate_ast.go, read by hand), and refuses them without
// the features.
func TestParseQueryExtensions(t *testing.T) {
	tree := func(srv string, query string) string {
		t.Helper()
		var env struct {
			Status string
			Data   map[string]any
		}
		body := get(t, srv+q("/api/v1/parse_query", "query", query)).body
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatal(err, body)
		}
		if env.Status != "success" {
			return body
		}
		b, _ := json.Marshal(env.Data)
		return string(b)
	}
	plain, _ := newTestAPI(t, Options{})
	for _, query := range []string{"x + fill(0) y"} { // duration expressions are always on, as in Prometheus 3
		if got := tree(plain.URL, query); !strings.Contains(got, `"errorType":"bad_data"`) {
			t.Errorf("%s without the features: %s", query, got)
		}
	}
	f, err := promql.ParseFeatures([]string{"promql-experimental-functions", "promql-binop-fill-modifiers"})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newTestAPI(t, Options{Engine: promql.NewEngine(promql.Opts{Features: f})})
	for query, wants := range map[string][]string{
		"rate(x[step() * 2])": {`"type":"matrixSelector"`, `"range":0`,
			`"rangeExpr":{"lhs":{"lhs":null,"op":"step","rhs":null,"type":"durationExpr","wrapped":false},"op":"*","rhs":{"duration":false,"type":"numberLiteral","val":"2"},"type":"durationExpr","wrapped":false}`},
		"x offset (1h)":      {`"offset":0`, `"offsetExpr":{"lhs":null,"op":"+"`},
		"x[5m:1m]":           {`"type":"subquery"`, `"range":300000`, `"rangeExpr":null`, `"step":60000`, `"stepExpr":null`, `"offsetExpr":null`},
		"x + fill(0) y":      {`"fillValues":{"lhs":0,"rhs":0}`},
		"x + fill_left(1) y": {`"fillValues":{"lhs":1,"rhs":null}`},
		"x":                  {`"anchored":false`, `"smoothed":false`, `"offsetExpr":null`},
	} {
		got := tree(srv.URL, query)
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("%s: lacks %s\n%s", query, want, got)
			}
		}
	}
}
