package promapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The responses are Prometheus's documented /api/v1/query shapes.
func TestQuery(t *testing.T) {
	var gotQuery, gotTime string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		gotQuery, gotTime = r.FormValue("query"), r.FormValue("time")
		w.Header().Set("Content-Type", "application/json")
		switch gotQuery {
		case "up":
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},"value":[1705327215.5,"1"]},` +
				`{"metric":{"job":"node"},"value":[1705327215.5,"NaN"]}]}}`))
		case "1+1":
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1705327215.5,"2"]}}`))
		case `"s"`:
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"string","result":[1705327215.5,"s"]}}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected end of input"}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 15, 14, 0, 15, 500e6, time.UTC)
	v, err := c.Query(context.Background(), "up", at)
	if err != nil {
		t.Fatal(err)
	}
	if gotTime != "1705327215.5" {
		t.Errorf("time sent %q", gotTime)
	}
	if len(v) != 2 || v[0].Metric.String() != `up{instance="localhost:9090",job="prometheus"}` || v[0].F != 1 || v[0].T != at.UnixMilli() ||
		v[1].Metric.String() != `{job="node"}` || v[1].F == v[1].F {
		t.Errorf("vector %v", v)
	}
	if v, err := c.Query(context.Background(), "1+1", at); err != nil || len(v) != 1 || v[0].F != 2 || v[0].Metric.Len() != 0 {
		t.Errorf("scalar %v %v", v, err)
	}
	if _, err := c.Query(context.Background(), `"s"`, at); err == nil {
		t.Error("a string result was accepted")
	}
	if _, err := c.Query(context.Background(), "up +", at); !errors.Is(err, ErrAPI) || err.Error() != "promapi: server error: bad_data: 1:4: parse error: unexpected end of input" {
		t.Errorf("error %v", err)
	}
	if _, err := New("not a url", nil); err == nil {
		t.Error("bad URL accepted")
	}
}
