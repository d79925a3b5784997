package remote

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/tsdb-course/stage01-memstore/model"
)

// The roadmap's JSON form of a write request:
//
//	{"timeseries": [{"labels": [{"name": "__name__", "value": "cpu_usage"}, …],
//	                 "samples": [{"timestamp": 1640000000000, "value": 0.75}, …]}]}
//
// Timestamps are milliseconds; a value may also be a string ("NaN", "+Inf",
// "1.5"), since JSON numbers cannot carry NaN or infinities.
type jsonRequest struct {
	Timeseries []struct {
		Labels []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"labels"`
		Samples []struct {
			Timestamp *int64          `json:"timestamp"`
			Value     json.RawMessage `json:"value"`
		} `json:"samples"`
	} `json:"timeseries"`
}

// DecodeJSON reads a JSON write request from r and hands each series to fn.
// The whole body is checked before fn is called, so a malformed request
// writes nothing.
func DecodeJSON(r io.Reader, fn func(*TimeSeries) error) error {
	var req jsonRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf("JSON: %v", err)
	}
	if dec.More() {
		return errorf("JSON: data after the request object")
	}
	all := make([]TimeSeries, len(req.Timeseries))
	for i, s := range req.Timeseries {
		ts := &all[i]
		for _, l := range s.Labels {
			ts.Labels = append(ts.Labels, Label{Name: []byte(l.Name), Value: []byte(l.Value)})
			ts.Key = fmt.Appendf(ts.Key, "%q=%q,", l.Name, l.Value)
		}
		for j, p := range s.Samples {
			if p.Timestamp == nil {
				return errorf("JSON: timeseries %d sample %d: no timestamp", i, j)
			}
			v, err := jsonValue(p.Value)
			if err != nil {
				return errorf("JSON: timeseries %d sample %d: %v", i, j, err)
			}
			ts.Samples = append(ts.Samples, model.Sample{T: *p.Timestamp, V: v})
		}
	}
	for i := range all {
		if err := fn(&all[i]); err != nil {
			return err
		}
	}
	return nil
}

func jsonValue(raw json.RawMessage) (float64, error) {
	if len(raw) == 0 {
		return 0, fmt.Errorf("no value")
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	} else {
		s = string(raw)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("value %s is not a number", raw)
	}
	if raw[0] != '"' && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return 0, fmt.Errorf("value %s is not a JSON number", raw)
	}
	return v, nil
}
