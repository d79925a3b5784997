package main

import (
	"fmt"
	"io"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage08-shards/shard"
)

func cmdLoad(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "load", "--data-dir DIR [--days N] [--hosts H] [--interval D]", stderr)
	var c common
	c.register(fs, true)
	n := fs.Int("days", 9, "days of data, ending at --now (the first starts at midnight)")
	hosts := fs.Int("hosts", 50, "hosts (10 cpu fields each: 10 series per host)")
	interval := fs.Duration("interval", time.Minute, "time between samples")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *hosts < 1 || *interval < time.Millisecond {
		return cli.Usagef("load: --days and --hosts must be ≥ 1, --interval ≥ 1ms")
	}
	now, err := c.clock()
	if err != nil {
		return err
	}
	end := now()
	start := end.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-*n)
	// The clock follows the data while it is written, as a live writer's
	// would; retention and tiering then see --now.
	clk := &simClock{}
	clk.set(start)
	c.follow = clk.now
	m, err := c.open("load", true)
	if err != nil {
		return err
	}
	defer m.Close()
	return load(stdout, stderr, m, newWorkload(*hosts, start, end, *interval), func(t int64) { clk.set(time.UnixMilli(t)) })
}

// load writes a workload through the manager, one batch per 10 steps,
// with progress on stderr; before each batch, at(t) is told its newest
// timestamp (the clock follows the data).
func load(stdout, stderr io.Writer, m *shard.Manager, w *workload, at func(t int64)) error {
	fmt.Fprintf(stdout, "Loading %s points: %s series (%d hosts × %d cpu fields) every %s, %s → %s, %s shards (%s engine)\n",
		cli.Thousands(int(w.total())), cli.Thousands(len(w.lsets)), w.hosts, len(fieldNames), cli.Duration(time.Duration(w.every)*time.Millisecond),
		time.UnixMilli(w.start).UTC().Format("2006-01-02 15:04"), time.UnixMilli(w.end).UTC().Format("2006-01-02 15:04"), m.ShardDuration(), m.Engine())
	p := cli.NewProgress(stderr, "points", w.total(), cli.DefaultInterval)
	t0 := time.Now()
	err := w.batches(10, func(b []shard.Series) error {
		at(b[0].Samples[len(b[0].Samples)-1].T)
		if err := m.Write(b); err != nil {
			return err
		}
		p.Add(int64(len(b) * len(b[0].Samples)))
		return nil
	})
	p.Done()
	if err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Fprintf(stdout, "Wrote %s points in %s (%s points/s) into %d shards\n",
		cli.Thousands(int(w.total())), cli.Duration(el), cli.Rate(float64(w.total())/el.Seconds()), len(m.Plan(w.start, w.end).Shards))
	return nil
}
