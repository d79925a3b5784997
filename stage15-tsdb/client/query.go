package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// ValueType is a query result's "resultType".
type ValueType string

// The result types of PromQL.
const (
	ValueVector ValueType = "vector"
	ValueMatrix ValueType = "matrix"
	ValueScalar ValueType = "scalar"
	ValueString ValueType = "string"
)

// Sample is one element of an instant vector: a series and its value at T
// (ms since the epoch).
type Sample struct {
	Metric model.Labels
	T      int64
	V      float64
}

// Series is one element of a range result: a series and its points.
type Series struct {
	Metric  model.Labels
	Samples []model.Sample
}

// Result is a query's answer. Exactly one of Vector, Matrix, Scalar and
// String is meaningful, as Type says; Raw is the server's answer as it
// came (`tsdb query --json` prints it).
type Result struct {
	Type     ValueType
	Vector   []Sample
	Matrix   []Series
	Scalar   model.Sample // also the time of a String result
	String   string
	Warnings []string
	Raw      []byte
}

// Query evaluates an instant query at t (the zero time: the server's now).
func (c *Client) Query(ctx context.Context, query string, t time.Time) (*Result, error) {
	form := url.Values{"query": {query}}
	if !t.IsZero() {
		form.Set("time", formatTime(t))
	}
	return c.query(ctx, "/api/v1/query", form)
}

// QueryRange evaluates a range query from start to end every step.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (*Result, error) {
	if step <= 0 {
		return nil, fmt.Errorf("client: query_range: step %v must be positive", step)
	}
	form := url.Values{
		"query": {query},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	return c.query(ctx, "/api/v1/query_range", form)
}

func (c *Client) query(ctx context.Context, path string, form url.Values) (*Result, error) {
	body, err := c.do(ctx, request{method: http.MethodPost, path: path, form: form})
	if err != nil {
		return nil, err
	}
	var data struct {
		ResultType ValueType       `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	warnings, err := decodeEnvelope(body, &data)
	if err != nil {
		return nil, err
	}
	res := &Result{Type: data.ResultType, Warnings: warnings, Raw: body}
	if err := res.decode(data.Result); err != nil {
		return nil, fmt.Errorf("client: decoding the %s result: %w", data.ResultType, err)
	}
	return res, nil
}

func (r *Result) decode(raw json.RawMessage) error {
	switch r.Type {
	case ValueVector:
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  point             `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		r.Vector = make([]Sample, len(v))
		for i, s := range v {
			lset, err := labelsOf(s.Metric)
			if err != nil {
				return err
			}
			r.Vector[i] = Sample{Metric: lset, T: s.Value.T, V: s.Value.V}
		}
	case ValueMatrix:
		var m []struct {
			Metric map[string]string `json:"metric"`
			Values []point           `json:"values"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		r.Matrix = make([]Series, len(m))
		for i, s := range m {
			lset, err := labelsOf(s.Metric)
			if err != nil {
				return err
			}
			ps := make([]model.Sample, len(s.Values))
			for j, p := range s.Values {
				ps[j] = model.Sample(p)
			}
			r.Matrix[i] = Series{Metric: lset, Samples: ps}
		}
	case ValueScalar:
		var p point
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		r.Scalar = model.Sample(p)
	case ValueString:
		var p [2]json.RawMessage
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		t, err := decodeTime(p[0])
		if err != nil {
			return err
		}
		r.Scalar.T = t
		return json.Unmarshal(p[1], &r.String)
	default:
		return fmt.Errorf("unknown result type %q", r.Type)
	}
	return nil
}

// point is [<unix seconds>, "<value>"], the API's form of one sample.
type point struct {
	T int64
	V float64
}

func (p *point) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	t, err := decodeTime(pair[0])
	if err != nil {
		return err
	}
	var s string
	if err := json.Unmarshal(pair[1], &s); err != nil {
		return fmt.Errorf("sample value %s: %w", pair[1], err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("sample value %q: %w", s, err)
	}
	p.T, p.V = t, v
	return nil
}

// decodeTime reads unix seconds (with up to millisecond fractions) as ms.
func decodeTime(b json.RawMessage) (int64, error) {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return 0, fmt.Errorf("timestamp %s: %w", b, err)
	}
	return int64(math.Round(f * 1000)), nil
}

func labelsOf(m map[string]string) (model.Labels, error) {
	pairs := make([]model.Label, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, model.Label{Name: k, Value: v})
	}
	return model.New(pairs...)
}
