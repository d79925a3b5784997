package influx

import (
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// Converter turns parsed points into samples one at a time, for callers
// that read line protocol themselves (the capstone's import command); the
// pipeline uses Decoder. It caches the label sets of the series it has
// seen, keyed by the point's Key, so a file of a few thousand series
// builds each label set once. A Converter is for one goroutine.
type Converter struct {
	cache map[string][]convSeries
	// MaxCached bounds the cache (series); past it the cache is cleared.
	// Defaults to 1,000,000.
	MaxCached int
	cached    int
}

type convSeries struct {
	field string
	lset  model.Labels
}

// NewConverter returns a converter.
func NewConverter() *Converter {
	return &Converter{cache: map[string][]convSeries{}, MaxCached: 1_000_000}
}

// Convert calls fn for each numeric field of p with its series, the time
// in ms (p's nanoseconds; now when p had no timestamp) and the value. It
// returns the number of fields skipped (strings).
func (c *Converter) Convert(p *lineprotocol.Point, now int64, fn func(lset model.Labels, t int64, v float64) error) (skipped int, err error) {
	t := now
	if p.HasTime {
		t, _ = Nanosecond.Millis(p.Time)
	}
	fields := c.cache[string(p.Key)]
	var so *seriesOf // the point's tags made labels once, for its new fields
	for _, f := range p.Fields {
		v, ok := Value(f.Value)
		if !ok {
			skipped++
			continue
		}
		lset, found := model.Labels{}, false
		for _, s := range fields {
			if s.field == string(f.Key) {
				lset, found = s.lset, true
				break
			}
		}
		if !found {
			if so == nil {
				so = newSeriesOf(p)
			}
			if lset, err = so.Labels(f.Key); err != nil {
				return skipped, err
			}
			if c.cached >= c.MaxCached {
				clear(c.cache)
				c.cached = 0
			}
			fields = append(fields, convSeries{field: string(f.Key), lset: lset})
			c.cache[string(p.Key)] = fields
			c.cached++
		}
		if err := fn(lset, t, v); err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}
