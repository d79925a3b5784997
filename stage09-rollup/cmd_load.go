package main

import (
	"io"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
)

func cmdLoad(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "load", "--data-dir DIR [--days N] [--series N] [--interval D]", stderr)
	var c common
	c.register(fs)
	days := fs.Int("days", 60, "days of data ending at --clock")
	series := fs.Int("series", 3, "series (hosts)")
	interval := fs.Duration("interval", 30*time.Second, "time between samples")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *days < 1 || *series < 1 || *interval < time.Second {
		return cli.Usagef("load: --days and --series must be ≥ 1, --interval ≥ 1s")
	}
	now, err := c.clock()
	if err != nil {
		return err
	}
	end := now()
	start := end.Add(-time.Duration(*days) * 24 * time.Hour).Truncate(*interval)
	clk := &simClock{}
	clk.set(start)
	e, err := c.open("load", true, clk.now)
	if err != nil {
		return err
	}
	defer e.Close()
	return load(stdout, stderr, e, newWorkload(*series, start, end, *interval), clk)
}
