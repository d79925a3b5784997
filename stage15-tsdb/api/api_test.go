package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	"github.com/tsdb-course/stage15-tsdb/client"
)

// fixture: three counters sampled every minute from t=0 to t=60m:
//
//	x{method="GET",inst="a"}  = 10·i
//	x{method="GET",inst="b"}  =  5·i
//	x{method="POST",inst="a"} =    i
//
// written through remote write, encoded by prompbtest (independent of the
// decoder).
func newTestAPI(t *testing.T, opts Options) (*httptest.Server, *tsdb.DB) {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	opts.Logger = discardLogger()
	opts.Now = func() time.Time { return time.Unix(3600, 0) }
	a := New(db, opts)
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var series []prompbtest.Series
	for _, s := range []struct {
		method, inst string
		k            float64
	}{{"GET", "a", 10}, {"GET", "b", 5}, {"POST", "a", 1}} {
		ps := prompbtest.Series{Labels: [][2]string{{"__name__", "x"}, {"inst", s.inst}, {"method", s.method}}}
		for i := 0; i <= 60; i++ {
			ps.Samples = append(ps.Samples, [2]float64{float64(i * 60_000), s.k * float64(i)})
		}
		series = append(series, ps)
	}
	resp := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, prompbtest.Marshal(t, series, []prompbtest.Meta{{Type: 1, Family: "x", Help: "requests"}})))
	if resp.code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", resp.code, resp.body)
	}
	return srv, db
}

type result struct {
	code int
	body string
}

func post(t *testing.T, u, ct string, body []byte) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if ct == "application/x-protobuf" {
		req.Header.Set("Content-Encoding", "snappy")
	}
	return do(t, req)
}

func get(t *testing.T, u string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, strings.TrimSpace(string(b))}
}

func q(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}

func TestQueryShapes(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	for _, c := range []struct{ url, want string }{
		// 30m: GET = 300 + 150, POST = 30.
		{q("/api/v1/query", "query", "sum by (method) (x)", "time", "1800"),
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"method":"GET"},"value":[1800,"450"]},{"metric":{"method":"POST"},"value":[1800,"30"]}]}}`},
		// rate over (25m, 30m]: samples i=26..30, increase 4 over 240 s,
		// extrapolated by 60 s to the window start (gap 60 s < 1.1 × 60 s):
		// 4 × 300/240 / 300 = 1/60. x is no counter by its name: an info.
		{q("/api/v1/query", "query", `rate(x{method="POST"}[5m])`, "time", "1800"),
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"inst":"a","method":"POST"},"value":[1800,"0.016666666666666666"]}]},` +
				`"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"x\" (1:6)"]}`},
		{q("/api/v1/query_range", "query", `x{inst="b"}`, "start", "600", "end", "720", "step", "60"),
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x","inst":"b","method":"GET"},"values":[[600,"50"],[660,"55"],[720,"60"]]}]}}`},
		// RFC 3339 times and a duration step: the same grid.
		{q("/api/v1/query_range", "query", `x{inst="b"}`, "start", "1970-01-01T00:10:00Z", "end", "1970-01-01T00:12:00Z", "step", "1m"),
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x","inst":"b","method":"GET"},"values":[[600,"50"],[660,"55"],[720,"60"]]}]}}`},
		{q("/api/v1/query", "query", "1 + 2", "time", "100.5"),
			`{"status":"success","data":{"resultType":"scalar","result":[100.500,"3"]}}`},
		{q("/api/v1/query", "query", `"hi"`, "time", "7"),
			`{"status":"success","data":{"resultType":"string","result":[7,"hi"]}}`},
		// A range selector in an instant query: the raw samples in (58m, 60m].
		{q("/api/v1/query", "query", `x{method="POST"}[2m]`, "time", "3600"),
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x","inst":"a","method":"POST"},"values":[[3540,"59"],[3600,"60"]]}]}}`},
		// No time: "now", which the test clock puts at 3600.
		{q("/api/v1/query", "query", `x{inst="b"}`),
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x","inst":"b","method":"GET"},"value":[3600,"300"]}]}}`},
		{q("/api/v1/series", "match[]", `x{method="GET"}`),
			`{"status":"success","data":[{"__name__":"x","inst":"a","method":"GET"},{"__name__":"x","inst":"b","method":"GET"}]}`},
		{q("/api/v1/labels"), `{"status":"success","data":["__name__","inst","method"]}`},
		{q("/api/v1/label/method/values"), `{"status":"success","data":["GET","POST"]}`},
		{q("/api/v1/label/inst/values", "match[]", `x{method="POST"}`), `{"status":"success","data":["a"]}`},
		{q("/api/v1/label/nope/values"), `{"status":"success","data":[]}`},
		{q("/api/v1/metadata"), `{"status":"success","data":{"x":[{"type":"counter","help":"requests","unit":""}]}}`},
		{q("/api/v1/query_exemplars", "query", "x"), `{"status":"success","data":[]}`},
	} {
		got := get(t, srv.URL+c.url)
		if got.code != 200 || got.body != c.want {
			t.Errorf("%s:\n got %d %s\nwant 200 %s", c.url, got.code, got.body, c.want)
		}
	}
	// POST with a form body is the same as GET.
	got := post(t, srv.URL+"/api/v1/query", "application/x-www-form-urlencoded", []byte("query=sum(x)&time=60"))
	if want := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[60,"16"]}]}}`; got.body != want {
		t.Errorf("POST query: %s", got.body)
	}
}

// errorBody decodes an error envelope.
func errorBody(t *testing.T, r result) (string, string) {
	t.Helper()
	var e struct{ Status, ErrorType, Error string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Status != "error" {
		t.Fatalf("not an error envelope: %s", r.body)
	}
	return e.ErrorType, e.Error
}

func TestQueryErrors(t *testing.T) {
	srv, _ := newTestAPI(t, Options{Engine: promql.NewEngine(promql.Opts{MaxSamples: 100})})
	for _, c := range []struct {
		url      string
		code     int
		typ, msg string
	}{
		{q("/api/v1/query", "query", "rate(x[5m]"), 400, "bad_data", `invalid parameter "query": 1:11: parse error`},
		{q("/api/v1/query", "query", "rate(x)"), 400, "bad_data", `1:6: parse error: expected type range vector in call to function "rate", got instant vector`},
		{q("/api/v1/query"), 400, "bad_data", `invalid parameter "query"`},
		{q("/api/v1/query", "query", "x", "time", "yesterday"), 400, "bad_data", `invalid parameter "time": cannot parse "yesterday" to a valid timestamp`},
		{q("/api/v1/query", "query", "x", "timeout", "soon"), 400, "bad_data", `invalid parameter "timeout"`},
		{q("/api/v1/query_range", "query", "x", "start", "10", "end", "5", "step", "1"), 400, "bad_data", "end timestamp must not be before start time"},
		{q("/api/v1/query_range", "query", "x", "start", "0", "end", "5", "step", "0"), 400, "bad_data", "zero or negative query resolution step"},
		{q("/api/v1/query_range", "query", "x", "start", "0", "end", "100000", "step", "1"), 400, "bad_data", "exceeded maximum resolution of 11,000 points"},
		{q("/api/v1/query_range", "query", "x[5m]", "start", "0", "end", "60", "step", "15"), 400, "bad_data", "invalid expression type \"range vector\""},
		{q("/api/v1/query_range", "query", "x", "end", "60", "step", "15"), 400, "bad_data", `invalid parameter "start"`},
		// 3 series × 61 samples > 100.
		{q("/api/v1/query", "query", "x[1h]", "time", "3600"), 422, "execution", "query processing would load too many samples"},
		{q("/api/v1/series"), 400, "bad_data", "no match[] parameter provided"},
		{q("/api/v1/series", "match[]", `x{`), 400, "bad_data", `invalid parameter "match[]"`},
		{q("/api/v1/labels", "start", "x"), 400, "bad_data", `invalid parameter "start"`},
		{q("/api/v1/status/tsdb", "limit", "0"), 400, "bad_data", `invalid parameter "limit"`},
		{"/api/v1/nope", 404, "not_found", "unknown API endpoint /api/v1/nope"},
	} {
		got := get(t, srv.URL+c.url)
		typ, msg := errorBody(t, got)
		if got.code != c.code || typ != c.typ || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %d %s %q, want %d %s containing %q", c.url, got.code, typ, msg, c.code, c.typ, c.msg)
		}
	}
}

func TestQueryTimeout(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	got := get(t, srv.URL+q("/api/v1/query", "query", "sum(x)", "time", "3600", "timeout", "0.000000001"))
	typ, msg := errorBody(t, got)
	if got.code != 503 || typ != "timeout" {
		t.Fatalf("got %d %s %s", got.code, typ, msg)
	}
}

func TestStatusPages(t *testing.T) {
	srv, _ := newTestAPI(t, Options{BuildInfo: BuildInfo{Version: "v-test"}})
	var tsdbStatus struct {
		Data struct {
			HeadStats struct {
				NumSeries, NumLabelPairs int
				MinTime, MaxTime         int64
			}
			SeriesCountByMetricName     []client.NameCount
			SeriesCountByLabelValuePair []client.NameCount
			LabelValueCountByLabelName  []client.NameCount
		}
	}
	r := get(t, srv.URL+"/api/v1/status/tsdb")
	if err := json.Unmarshal([]byte(r.body), &tsdbStatus); err != nil {
		t.Fatal(err)
	}
	d := tsdbStatus.Data
	// Pairs: __name__=x, inst=a, inst=b, method=GET, method=POST.
	if d.HeadStats.NumSeries != 3 || d.HeadStats.NumLabelPairs != 5 || d.HeadStats.MinTime != 0 || d.HeadStats.MaxTime != 3_600_000 {
		t.Errorf("head stats %+v", d.HeadStats)
	}
	wantPairs := []client.NameCount{{Name: "__name__=x", Value: 3}, {Name: "inst=a", Value: 2}, {Name: "method=GET", Value: 2}, {Name: "inst=b", Value: 1}, {Name: "method=POST", Value: 1}}
	if !equalNV(d.SeriesCountByLabelValuePair, wantPairs) || !equalNV(d.SeriesCountByMetricName, []client.NameCount{{Name: "x", Value: 3}}) ||
		!equalNV(d.LabelValueCountByLabelName, []client.NameCount{{Name: "inst", Value: 2}, {Name: "method", Value: 2}, {Name: "__name__", Value: 1}}) {
		t.Errorf("top lists %+v", d)
	}
	if r := get(t, srv.URL+"/api/v1/status/buildinfo"); !strings.Contains(r.body, `"version":"v-test"`) {
		t.Errorf("buildinfo %s", r.body)
	}
	if r := get(t, srv.URL+"/api/v1/status/runtimeinfo"); !strings.Contains(r.body, `"GOMAXPROCS"`) || !strings.Contains(r.body, `"storageRetention"`) {
		t.Errorf("runtimeinfo %s", r.body)
	}
	var st struct {
		Status  string
		Storage struct{ TotalSeries, TotalSamples int64 } `json:"storage"`
	}
	r = get(t, srv.URL+"/admin/status")
	if err := json.Unmarshal([]byte(strings.ReplaceAll(strings.ReplaceAll(r.body, "total_series", "TotalSeries"), "total_samples", "TotalSamples")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "healthy" || st.Storage.TotalSeries != 3 {
		t.Errorf("admin status %s", r.body)
	}
}

func equalNV(a, b []client.NameCount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
