package rollup

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage08-shards/shard"
)

// clock is the injected time: tests move it, nothing sleeps.
type clock struct{ ms atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ms.Store(t.UnixMilli()) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func mix(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

// dyadic values (quarters up to 1000) add up exactly in float64, so sums
// over any grouping are equal bit for bit: the oracle can demand exact.
func dyadic(i int, t int64) float64 { return float64(mix(uint64(i), uint64(t))%4000) / 4 }

// lognormal values, for the percentile milestone.
func lognormal(i int, t int64) float64 {
	u1 := (float64(mix(uint64(i), uint64(t))>>11) + 0.5) / (1 << 53)
	u2 := (float64(mix(uint64(i)+99, uint64(t))>>11) + 0.5) / (1 << 53)
	n := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return math.Exp(n*0.8 + 3)
}

func seriesLabels(n int) []model.Labels {
	var out []model.Labels
	for i := range n {
		out = append(out, model.MustFromStrings(model.MetricName, "cpu_usage", "host", fmt.Sprintf("server%d", i+1), "dc", []string{"eu", "us"}[i%2]))
	}
	return out
}

// oracle keeps every raw sample written, in a plain slice per series.
type oracle struct {
	lsets   []model.Labels
	samples [][]model.Sample
}

// aggregate is the oracle's aggregate over [from, to) of the series
// matching ms.
func (o *oracle) aggregate(from, to int64, withSketch bool, ms ...*index.Matcher) (Aggregate, []float64) {
	a := NewAggregate(withSketch)
	var vals []float64
	for i, l := range o.lsets {
		if !matchLabels(l, ms) {
			continue
		}
		for _, s := range o.samples[i] {
			if s.T >= from && s.T < to {
				a.Add(s.V)
				vals = append(vals, s.V)
			}
		}
	}
	return a, vals
}

// loader writes series every step from the clock's time on, a batch per
// `batch` of time, moving the clock to each batch's end (a live writer's
// now) and running the jobs every runEvery.
type loader struct {
	t        testing.TB
	e        *Engine
	clk      *clock
	o        *oracle
	step     time.Duration
	value    func(i int, t int64) float64
	batch    time.Duration
	runEvery time.Duration
	reports  []*Report
	lastRun  time.Time
}

func (l *loader) until(end time.Time) {
	l.t.Helper()
	for l.clk.now().Before(end) {
		from := l.clk.now()
		to := from.Add(l.batch)
		if to.After(end) {
			to = end
		}
		var b []shard.Series
		for i, ls := range l.o.lsets {
			s := shard.Series{Labels: ls}
			for t := from.UnixMilli(); t < to.UnixMilli(); t += l.step.Milliseconds() {
				s.Samples = append(s.Samples, model.Sample{T: t, V: l.value(i, t)})
			}
			l.o.samples[i] = append(l.o.samples[i], s.Samples...)
			b = append(b, s)
		}
		l.clk.set(to)
		if err := l.e.Write(b); err != nil {
			l.t.Fatal(err)
		}
		if l.runEvery > 0 && to.Sub(l.lastRun) >= l.runEvery {
			l.run()
		}
	}
}

func (l *loader) run() *Report {
	l.t.Helper()
	r, err := l.e.Run(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	l.reports = append(l.reports, r)
	l.lastRun = l.clk.now()
	return r
}

func newOracle(n int) *oracle {
	return &oracle{lsets: seriesLabels(n), samples: make([][]model.Sample, n)}
}

func openEngine(t testing.TB, dir string, clk *clock, tiers []Tier) *Engine {
	t.Helper()
	e, err := Open(dir, Options{Tiers: tiers, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustQuery(t testing.TB, s string) *Query {
	t.Helper()
	q, err := ParseQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// sameAgg compares count, sum, min and max exactly.
func sameAgg(a, b Aggregate) bool {
	return a.Count == b.Count && a.Sum == b.Sum && (a.Count == 0 || (a.Min == b.Min && a.Max == b.Max))
}

func fmtAgg(a Aggregate) string {
	return fmt.Sprintf("count=%d sum=%v min=%v max=%v", a.Count, a.Sum, a.Min, a.Max)
}
