package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
	"github.com/tsdb-course/stage09-rollup/rollup"
)

// simClock is the simulated time: it follows the data while loading, as
// a live writer's "now" does.
type simClock struct{ ms atomic.Int64 }

func (c *simClock) now() time.Time  { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *simClock) set(t time.Time) { c.ms.Store(t.UnixMilli()) }

// workload is cpu_usage of n hosts every interval: a monthly swell, a
// daily cycle and noise from a fixed seed, in [0, 1] and rounded to
// 1/1024, so every sum is exact and rollups equal raw to the last bit.
type workload struct {
	lsets      []model.Labels
	start, end int64
	every      int64
}

func newWorkload(series int, start, end time.Time, every time.Duration) *workload {
	w := &workload{start: start.UnixMilli(), end: end.UnixMilli(), every: every.Milliseconds()}
	for i := range series {
		w.lsets = append(w.lsets, model.MustFromStrings(model.MetricName, "cpu_usage",
			"host", fmt.Sprintf("server%d", i+1), "region", []string{"us-east", "eu-west"}[i%2]))
	}
	return w
}

func mix(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

func (w *workload) value(i int, t int64) float64 {
	days := float64(t) / 86_400_000
	v := 0.35 + 0.15*math.Sin(2*math.Pi*days/30+float64(i)) + 0.12*math.Sin(2*math.Pi*days) + 0.05*float64(i)
	noise := float64(mix(uint64(i), uint64(t))%1000)/1000 - 0.5
	v += 0.2 * noise * noise * noise * 8 // mostly small, sometimes a spike
	return math.Round(math.Min(1, math.Max(0, v))*1024) / 1024
}

func (w *workload) total() int64 {
	return (w.end - w.start + w.every - 1) / w.every * int64(len(w.lsets))
}

// load writes the workload a simulated day per batch; after each day the
// clock moves to its end, the jobs run and retention is applied, as a
// ticker would in a server. It returns the last run's report.
func load(stdout, stderr io.Writer, e *rollup.Engine, w *workload, clk *simClock) error {
	fmt.Fprintf(stdout, "Loading %s points: %d series every %s, %s → %s, jobs and retention once a simulated day\n",
		cli.Thousands(int(w.total())), len(w.lsets), cli.Duration(time.Duration(w.every)*time.Millisecond),
		stamp(time.UnixMilli(w.start)), stamp(time.UnixMilli(w.end)))
	p := cli.NewProgress(stderr, "points", w.total(), cli.DefaultInterval)
	t0 := time.Now()
	batch := make([]shard.Series, len(w.lsets))
	var windows [8]int
	var deleted int
	for from := w.start; from < w.end; {
		to := min(w.end, (from/86_400_000+1)*86_400_000)
		n := 0
		for i := range batch {
			s := batch[i].Samples[:0]
			for t := from + (w.every-(from-w.start)%w.every)%w.every; t < to; t += w.every {
				s = append(s, model.Sample{T: t, V: w.value(i, t)})
			}
			batch[i] = shard.Series{Labels: w.lsets[i], Samples: s}
			n += len(s)
		}
		clk.set(time.UnixMilli(to))
		if err := e.Write(batch); err != nil {
			return err
		}
		rep, err := e.Run(context.Background())
		if err != nil {
			return err
		}
		for i, tr := range rep.Tiers {
			windows[i] += tr.Windows
		}
		dels, err := e.EnforceRetention()
		if err != nil {
			return err
		}
		for _, d := range dels {
			deleted += len(d.Shards)
		}
		p.Add(int64(n))
		from = to
	}
	p.Done()
	el := time.Since(t0)
	fmt.Fprintf(stdout, "Wrote %s points in %s (%s points/s, jobs included); windows rolled up:", cli.Thousands(int(w.total())),
		cli.Duration(el), cli.Rate(float64(w.total())/el.Seconds()))
	for i, t := range e.Tiers()[1:] {
		fmt.Fprintf(stdout, " %s %s", t.Name, cli.Thousands(windows[i]))
	}
	fmt.Fprintf(stdout, "; %d expired shards deleted\n", deleted)
	return nil
}
