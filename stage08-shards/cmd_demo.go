package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

// simClock is the demo's clock: it follows the data while loading (a
// writer's "now" is the time of what it writes), then stands at the
// guide's today.
type simClock struct{ ms atomic.Int64 }

func (c *simClock) now() time.Time  { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *simClock) set(t time.Time) { c.ms.Store(t.UnixMilli()) }

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--engine tsm|blocks] [--days N] [--hosts H] [--data-dir DIR]", stderr)
	dir := fs.String("data-dir", "", "data directory (default: a new temp dir, removed at the end)")
	engine := fs.String("engine", shard.EngineTSM, "shard engine: tsm (stage07) or blocks (stage06)")
	n := fs.Int("days", 9, "days of data ending at 2024-01-15 12:00 UTC")
	hosts := fs.Int("hosts", 40, "hosts (10 cpu fields each)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *n < 2 || *hosts < 1 {
		return cli.Usagef("demo: --days must be ≥ 2 and --hosts ≥ 1")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "stage08-shards-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	clk := &simClock{}
	start := demoNow.Truncate(24*time.Hour).AddDate(0, 0, 1-*n)
	clk.set(start)
	opts := shard.Options{Engine: *engine, Now: clk.now}
	m, err := shard.Open(*dir, opts)
	if err != nil {
		return err
	}
	defer func() { m.Close() }()
	fmt.Fprintf(stdout, "Shard manager initialized (%s): %s shards aligned to UTC, %s engine per shard\n\n", *dir, m.ShardDuration(), m.Engine())

	fmt.Fprintln(stdout, "[Load] the clock follows the data, as a live writer's would")
	w := newWorkload(*hosts, start, demoNow, time.Minute)
	if err := load(stdout, stderr, m, w, func(t int64) { clk.set(time.UnixMilli(t)) }); err != nil {
		return err
	}
	clk.set(demoNow)
	fmt.Fprintf(stdout, "\n$ stage08-shards status   (now = %s)\n", demoNow.Format(time.RFC3339))
	if err := status(stdout, m); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n$ stage08-shards tier")
	if err := tier(stdout, m); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n$ stage08-shards status")
	if err := status(stdout, m); err != nil {
		return err
	}

	q := "SELECT * FROM cpu WHERE time > '2024-01-14'"
	fmt.Fprintf(stdout, "\n$ stage08-shards query \"%s\"\n", q)
	res, err := query(stdout, m, q, demoNow, 0)
	if err != nil {
		return err
	}
	if err := check(stdout, m, w, res); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n$ stage08-shards enforce-retention")
	if err := retention(stdout, m); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n[Restart] close, reopen from the MANIFEST")
	before, err := m.Shards()
	if err != nil {
		return err
	}
	if err := m.Close(); err != nil {
		return err
	}
	if m, err = shard.Open(*dir, shard.Options{Now: clk.now}); err != nil {
		return err
	}
	after, err := m.Shards()
	if err != nil {
		return err
	}
	same := len(before) == len(after)
	for i := 0; same && i < len(before); i++ {
		same = before[i].ID == after[i].ID && before[i].State == after[i].State && before[i].Series == after[i].Series
	}
	if !same {
		return fmt.Errorf("demo: shards after restart differ: %v vs %v", before, after)
	}
	fmt.Fprintf(stdout, "Resumed %d shards in the same states (%d hot, %d warm, %d cold)\n", len(after),
		countState(after, shard.Hot), countState(after, shard.Warm), countState(after, shard.Cold))
	return nil
}

func countState(infos []shard.ShardInfo, st shard.State) int {
	n := 0
	for _, s := range infos {
		if s.State == st {
			n++
		}
	}
	return n
}

// check compares the query with the generator (the oracle): the points it
// counted, and every sample the shards return for its range, value by value.
func check(w io.Writer, m *shard.Manager, wl *workload, res *shard.QueryResult) error {
	from := time.Date(2024, 1, 14, 0, 0, 0, 0, time.UTC).UnixMilli() + 1
	got, _, err := m.Select(context.Background(), from, math.MaxInt64)
	if err != nil {
		return err
	}
	byLabels := map[string][]model.Sample{}
	for _, s := range got {
		byLabels[s.Labels.String()] = s.Samples
	}
	n := 0
	err = wl.batches(10, func(b []shard.Series) error {
		for i := range b {
			key := b[i].Labels.String()
			have := byLabels[key]
			for _, s := range b[i].Samples {
				if s.T < from {
					continue
				}
				if len(have) == 0 || have[0].T != s.T || math.Float64bits(have[0].V) != math.Float64bits(s.V) {
					return fmt.Errorf("demo: %s at %s: the shards disagree with the generator", key, time.UnixMilli(s.T).UTC())
				}
				have = have[1:]
				n++
			}
			byLabels[key] = have
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != res.Result.Points || len(got) != len(wl.lsets) {
		return fmt.Errorf("demo: the query returned %d points, the generator wrote %d after the bound", res.Result.Points, n)
	}
	fmt.Fprintf(w, "Check: all %s points equal the generator's, value by value\n", cli.Thousands(n))
	return nil
}
