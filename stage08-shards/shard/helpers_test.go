package shard

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

var engines = []string{EngineTSM, EngineBlocks}

// clock is the injected time: tests move it, nothing sleeps.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// gen makes hosts × fields series sampled every step from start to end,
// values a deterministic function of (series, time): the oracle of every
// test. Batches hold one step of every series, in time order, as a
// scraper writes.
type gen struct {
	hosts, fields int
	start, end    int64 // ms
	step          int64
}

func (g gen) labels(h, f int) model.Labels {
	return model.MustFromStrings(model.MetricName, "cpu", FieldLabel, fmt.Sprintf("usage_%d", f),
		"host", fmt.Sprintf("server%d", h), "region", []string{"eu", "us"}[h%2])
}

func value(h, f int, t int64) float64 {
	return float64(h*100+f) + math.Mod(float64(t/1000), 977)/10
}

// batches returns the data as write batches of `per` steps each.
func (g gen) batches(per int) [][]Series {
	var out [][]Series
	lsets := make([]model.Labels, 0, g.hosts*g.fields)
	for h := range g.hosts {
		for f := range g.fields {
			lsets = append(lsets, g.labels(h, f))
		}
	}
	for t0 := g.start; t0 < g.end; t0 += int64(per) * g.step {
		b := make([]Series, len(lsets))
		for i, l := range lsets {
			b[i].Labels = l
			h, f := i/g.fields, i%g.fields
			for t := t0; t < g.end && t < t0+int64(per)*g.step; t += g.step {
				b[i].Samples = append(b[i].Samples, model.Sample{T: t, V: value(h, f, t)})
			}
		}
		out = append(out, b)
	}
	return out
}

func openManager(t testing.TB, dir, engine string, c *clock, opts Options) *Manager {
	t.Helper()
	opts.Engine = engine
	if c != nil {
		opts.Now = c.now
	}
	m, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeAll(t testing.TB, w func([]Series) error, bs [][]Series) {
	t.Helper()
	for _, b := range bs {
		if err := w(b); err != nil {
			t.Fatal(err)
		}
	}
}

// equalSeries compares two results exactly: same series in the same order,
// same samples bit for bit.
func equalSeries(t *testing.T, what string, got, want []Series) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d series, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !got[i].Labels.Equal(want[i].Labels) {
			t.Fatalf("%s: series %d is %v, want %v", what, i, got[i].Labels, want[i].Labels)
		}
		g, w := got[i].Samples, want[i].Samples
		if len(g) != len(w) {
			t.Fatalf("%s: %v: %d samples, want %d", what, want[i].Labels, len(g), len(w))
		}
		for j := range w {
			if g[j].T != w[j].T || math.Float64bits(g[j].V) != math.Float64bits(w[j].V) {
				t.Fatalf("%s: %v sample %d = %v, want %v", what, want[i].Labels, j, g[j], w[j])
			}
		}
	}
}

func countSamples(ss []Series) int {
	n := 0
	for _, s := range ss {
		n += len(s.Samples)
	}
	return n
}

func mustMatcher(t index.MatchType, n, v string) *index.Matcher { return index.MustNewMatcher(t, n, v) }

var bg = context.Background()
