package remote

import (
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// Influx turns InfluxDB line-protocol points into Prometheus samples the
// way Prometheus-compatible stores name them: one series per (measurement,
// tag set, field), named <measurement>_<field>, tags as labels. Names are
// made valid label names (every character outside [A-Za-z0-9_:] becomes
// '_', and a leading digit gets a '_' in front). Integer, unsigned and
// boolean (1/0) fields become floats; string fields are skipped.
//
// It caches the label sets of the series it has seen, keyed by the raw
// measurement and tags, so a file of a few thousand series builds each
// label set once. An Influx is for one goroutine.
type Influx struct {
	cache map[string][]influxSeries
	key   []byte
	// MaxCached bounds the cache (series); past it the cache is cleared.
	// Defaults to 1,000,000.
	MaxCached int
	cached    int
}

type influxSeries struct {
	field string
	lset  model.Labels
}

// NewInflux returns a converter.
func NewInflux() *Influx { return &Influx{cache: map[string][]influxSeries{}, MaxCached: 1_000_000} }

// Convert calls fn for each numeric field of p with its series, the time
// in ms (p's nanoseconds truncated; now when p had no timestamp) and the
// value. It returns the number of fields skipped (strings).
func (c *Influx) Convert(p *lineprotocol.Point, now int64, fn func(lset model.Labels, t int64, v float64) error) (skipped int, err error) {
	t := now
	if p.HasTime {
		t = p.Time / 1e6
	}
	c.key = append(c.key[:0], p.Measurement...)
	for _, tg := range p.Tags {
		c.key = append(c.key, 0)
		c.key = append(c.key, tg.Key...)
		c.key = append(c.key, 0)
		c.key = append(c.key, tg.Value...)
	}
	fields := c.cache[string(c.key)]
	for _, f := range p.Fields {
		var v float64
		switch f.Value.Kind() {
		case lineprotocol.Float:
			v = f.Value.Float()
		case lineprotocol.Integer:
			v = float64(f.Value.Int())
		case lineprotocol.Unsigned:
			v = float64(f.Value.Uint())
		case lineprotocol.Boolean:
			if f.Value.Bool() {
				v = 1
			}
		default:
			skipped++
			continue
		}
		lset, ok := model.Labels{}, false
		for _, s := range fields {
			if s.field == string(f.Key) {
				lset, ok = s.lset, true
				break
			}
		}
		if !ok {
			if lset, err = influxLabels(p, f.Key); err != nil {
				return skipped, err
			}
			if c.cached >= c.MaxCached {
				clear(c.cache)
				c.cached = 0
			}
			fields = append(fields, influxSeries{field: string(f.Key), lset: lset})
			c.cache[string(c.key)] = fields
			c.cached++
		}
		if err := fn(lset, t, v); err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}

func influxLabels(p *lineprotocol.Point, field []byte) (model.Labels, error) {
	pairs := make([]model.Label, 0, len(p.Tags)+1)
	name := sanitize(p.Measurement) + "_" + sanitize(field)
	pairs = append(pairs, model.Label{Name: model.MetricName, Value: name})
	for _, tg := range p.Tags {
		pairs = append(pairs, model.Label{Name: sanitize(tg.Key), Value: string(tg.Value)})
	}
	lset, err := model.New(pairs...)
	if err != nil {
		return model.Labels{}, errorf("series %s: %v", name, err)
	}
	return lset, nil
}

// sanitize makes b a valid Prometheus label name.
func sanitize(b []byte) string {
	out := make([]byte, 0, len(b)+1)
	for i, ch := range b {
		ok := ch == '_' || ch == ':' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9'
		if i == 0 && '0' <= ch && ch <= '9' {
			out = append(out, '_')
		}
		if !ok {
			ch = '_'
		}
		out = append(out, ch)
	}
	if len(out) == 0 {
		return "_"
	}
	return string(out)
}
