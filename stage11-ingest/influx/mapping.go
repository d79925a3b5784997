// Package influx takes InfluxDB line protocol into the ingest pipeline:
// the mapping of a point's fields to Prometheus-style series (mapping.go),
// the timestamp precisions of InfluxDB's v1 and v2 write APIs
// (precision.go), the Decoder that feeds a request body to an ingest.Write
// (decode.go), and a Converter for callers outside the pipeline.
//
// The parser itself is stage07's lineprotocol package.
package influx

import (
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// Labels maps one field of a point to its series the way
// Prometheus-compatible stores do (InfluxDB's own Prometheus endpoints,
// VictoriaMetrics, Telegraf's prometheus output): one series per
// (measurement, tag set, field), named <measurement>_<field>, the tags as
// labels. Names are made valid label names: every byte outside
// [A-Za-z0-9_:] becomes '_', and a leading digit gets a '_' in front; tag
// values are kept as they are.
//
//	cpu,host=a,cpu-id=3 usage_idle=0.5   →   cpu_usage_idle{cpu_id="3",host="a"} 0.5
func Labels(p *lineprotocol.Point, field []byte) (model.Labels, error) {
	return newSeriesOf(p).Labels(field)
}

// seriesOf is what a point's series share, measurement and tags made
// label-ready once, so that each field's label set costs only its name.
type seriesOf struct {
	measurement string
	labels      []model.Label // labels[0] is the name, set per field
}

func newSeriesOf(p *lineprotocol.Point) *seriesOf {
	r := &seriesOf{measurement: sanitize(p.Measurement), labels: make([]model.Label, 1, len(p.Tags)+1)}
	r.labels[0].Name = model.MetricName
	for _, tg := range p.Tags {
		r.labels = append(r.labels, model.Label{Name: sanitize(tg.Key), Value: string(tg.Value)})
	}
	return r
}

// Labels is the label set of the series of field.
func (r *seriesOf) Labels(field []byte) (model.Labels, error) {
	var buf [128]byte // one allocation for the name, not three
	nb := append(append(buf[:0], r.measurement...), '_')
	name := string(appendSanitized(nb, field))
	// NewLabels checks and compacts the slice it is given in place.
	pairs := append([]model.Label(nil), r.labels...)
	pairs[0].Value = name
	lset, err := ingest.NewLabels(pairs, nil)
	if err != nil {
		return model.Labels{}, fmt.Errorf("series %s: %w", name, err)
	}
	return lset, nil
}

// Value is a field's value as a sample: floats as they are, integers and
// unsigned integers converted (beyond 2^53 they lose precision, as in
// every Prometheus-style store), booleans 1 and 0. Strings have no sample
// value: ok is false, and the field is counted and skipped.
func Value(v lineprotocol.Value) (f float64, ok bool) {
	switch v.Kind() {
	case lineprotocol.Float:
		return v.Float(), true
	case lineprotocol.Integer:
		return float64(v.Int()), true
	case lineprotocol.Unsigned:
		return float64(v.Uint()), true
	case lineprotocol.Boolean:
		if v.Bool() {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// sanitize makes b a valid Prometheus label name.
func sanitize(b []byte) string {
	return string(appendSanitized(make([]byte, 0, len(b)+1), b))
}

// appendSanitized appends b made a valid label name (or "_" for none).
func appendSanitized(dst, b []byte) []byte {
	for i, ch := range b {
		ok := ch == '_' || ch == ':' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9'
		if i == 0 && '0' <= ch && ch <= '9' {
			dst = append(dst, '_')
		}
		if !ok {
			ch = '_'
		}
		dst = append(dst, ch)
	}
	if len(b) == 0 {
		return append(dst, '_')
	}
	return dst
}

// Format is the ingest.Format of line-protocol series: the key is a
// point's Key (measurement and tags as written), the suffix its field.
var Format ingest.Format = format{}

type format struct{}

func (f format) Labels(key, field []byte) (model.Labels, error) {
	r, err := f.Row(key)
	if err != nil {
		return model.Labels{}, err
	}
	return r.Labels(field)
}

// Row parses a key once for all its fields' series (ingest.RowFormat): a
// sink creating a line's ten series no longer parses its tag set ten times.
func (format) Row(key []byte) (ingest.RowLabels, error) {
	var p lineprotocol.Point
	if err := lineprotocol.ParseKey(key, &p); err != nil {
		return nil, fmt.Errorf("%w: %w", ingest.ErrInvalidSeries, err)
	}
	return newSeriesOf(&p), nil
}
