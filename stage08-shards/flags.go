package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage08-shards/shard"
)

// demoNow is the guide's "today": the default clock, so that the guide's
// commands (time > '2024-01-14') mean what they say on generated data.
var demoNow = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)

// common are the flags every subcommand takes.
type common struct {
	dir, coldDir, now  string
	engine, duration   string
	warm, cold, retain string
	workers            int
	follow             func() time.Time // overrides --now (load: the clock follows the data)
}

func (c *common) register(fs *flag.FlagSet, withEngine bool) {
	fs.StringVar(&c.dir, "data-dir", "", "data directory")
	fs.StringVar(&c.coldDir, "cold-dir", "", "cold tier directory (default DIR/cold)")
	fs.StringVar(&c.now, "now", demoNow.Format(time.RFC3339), `the clock: RFC 3339, or "wall"`)
	if withEngine {
		fs.StringVar(&c.engine, "engine", "", "shard engine for a new data dir: tsm or blocks (default tsm)")
		fs.StringVar(&c.duration, "shard-duration", "", "shard window for a new data dir: hour, day or week (default day)")
	}
}

func (c *common) registerPolicy(fs *flag.FlagSet) {
	fs.StringVar(&c.warm, "warm-after", "", "hot → warm this long after a shard's window ends (default: the manifest's, 0)")
	fs.StringVar(&c.cold, "cold-after", "", "warm → cold this long after the window ends (default: the manifest's, 2d)")
	fs.StringVar(&c.retain, "retention", "", "delete shards whose window ended this long ago (default: the manifest's, 7d; 0 keeps all)")
}

func (c *common) clock() (func() time.Time, error) {
	if c.now == "wall" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.now)
	if err != nil {
		return nil, cli.Usagef("--now: %v", err)
	}
	return func() time.Time { return t }, nil
}

// open opens the shards in --data-dir; only a command that writes (create)
// may make a new data directory.
func (c *common) open(cmd string, create bool) (*shard.Manager, error) {
	if c.dir == "" {
		return nil, cli.Usagef("%s: --data-dir is required", cmd)
	}
	if !create {
		if err := cli.ExistingDir(c.dir); err != nil {
			return nil, err
		}
	}
	now, err := c.clock()
	if err != nil {
		return nil, err
	}
	if c.follow != nil {
		now = c.follow
	}
	opts := shard.Options{Engine: c.engine, ColdDir: c.coldDir, QueryWorkers: c.workers, Now: now}
	if c.duration != "" {
		if opts.ShardDuration, err = shard.ParseDuration(c.duration); err != nil {
			return nil, cli.Usagef("%v", err)
		}
	}
	m, err := shard.Open(c.dir, opts)
	if err != nil || (c.warm == "" && c.cold == "" && c.retain == "") {
		return m, err
	}
	// A policy flag changes the policy in force (and the manifest).
	p := m.Policy()
	for _, f := range []struct {
		s   string
		dst *time.Duration
	}{{c.warm, &p.WarmAfter}, {c.cold, &p.ColdAfter}, {c.retain, &p.Retention}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = parseDays(f.s); err != nil {
			m.Close()
			return nil, cli.Usagef("%v", err)
		}
	}
	m.Close()
	opts.Policy = &p
	return shard.Open(c.dir, opts)
}

// parseDays parses a Go duration or a number of days ("7d").
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// days formats a duration the way the guide does: "7 days", "1 day", "36h".
func days(d time.Duration) string {
	switch {
	case d == 0:
		return "none (keep everything)"
	case d%(24*time.Hour) == 0 && d == 24*time.Hour:
		return "1 day"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return cli.Duration(d)
}

func durationName(d shard.Duration) string { return "1 " + d.String() }

// size formats bytes in decimal units as the guide prints them: 2.3GB.
func size(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fKB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}

// after formats a policy age: "at once" for 0.
func after(d time.Duration) string {
	if d == 0 {
		return "at once"
	}
	return days(d)
}
