// Package promapi is a small client of Prometheus's instant-query API
// (/api/v1/query): enough for the rule manager to evaluate rules against
// any server that speaks it: Prometheus itself, the course's stage15 server,
// Thanos, VictoriaMetrics. Results come back as stage10's promql.Vector, so
// the manager cannot tell a remote evaluation from a local one.
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
)

// ErrAPI wraps errors the server reports (status "error").
var ErrAPI = errors.New("promapi: server error")

// Client queries one server.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the server at base ("http://prometheus:9090");
// hc nil means a client with a 2m timeout.
func New(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("promapi: bad server URL %q", base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Client{base: u, http: hc}, nil
}

type response struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Query runs an instant query at t. A vector result is returned as is, a
// scalar as one sample without labels; other results are an error.
func (c *Client) Query(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
	form := url.Values{"query": {q}, "time": {formatTime(t)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("promapi: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("promapi: %w", err)
	}
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("promapi: %s: status %s, not an API response: %.200s", c.base, resp.Status, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%w: %s: %s", ErrAPI, r.ErrorType, r.Error)
	}
	var d queryData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return nil, fmt.Errorf("promapi: bad data: %w", err)
	}
	switch d.ResultType {
	case "vector":
		var ss []vectorSample
		if err := json.Unmarshal(d.Result, &ss); err != nil {
			return nil, fmt.Errorf("promapi: bad vector: %w", err)
		}
		out := make(promql.Vector, 0, len(ss))
		for _, s := range ss {
			ts, v, err := parsePoint(s.Value)
			if err != nil {
				return nil, err
			}
			l, err := model.FromMetric(s.Metric["__name__"], without(s.Metric, "__name__"))
			if err != nil {
				return nil, fmt.Errorf("promapi: bad labels: %w", err)
			}
			out = append(out, promql.Sample{Metric: l, T: ts, F: v})
		}
		return out, nil
	case "scalar":
		var p [2]any
		if err := json.Unmarshal(d.Result, &p); err != nil {
			return nil, fmt.Errorf("promapi: bad scalar: %w", err)
		}
		ts, v, err := parsePoint(p)
		if err != nil {
			return nil, err
		}
		return promql.Vector{{T: ts, F: v}}, nil
	}
	return nil, fmt.Errorf("promapi: rule result is not a vector or scalar (%s)", d.ResultType)
}

func without(m map[string]string, k string) map[string]string {
	out := make(map[string]string, len(m))
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	return out
}

// parsePoint reads [<seconds>, "<value>"].
func parsePoint(p [2]any) (int64, float64, error) {
	sec, ok := p[0].(float64)
	vs, ok2 := p[1].(string)
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("promapi: bad point %v", p)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("promapi: bad value %q", vs)
	}
	return int64(math.Round(sec * 1000)), v, nil
}

// formatTime is seconds with millisecond precision, as Prometheus reads it.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}
