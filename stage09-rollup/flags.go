package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage09-rollup/rollup"
)

// demoNow is the guide's "today" and the default clock.
var demoNow = time.Date(2024, 1, 15, 14, 35, 0, 0, time.UTC)

// common are the flags every subcommand takes.
type common struct {
	dir, clockFlag string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "data-dir", "", "data directory")
	fs.StringVar(&c.clockFlag, "clock", demoNow.Format(time.RFC3339), `the clock: RFC 3339, unix seconds, or "wall"`)
}

func (c *common) clock() (func() time.Time, error) {
	if c.clockFlag == "wall" {
		return time.Now, nil
	}
	if n, err := strconv.ParseInt(c.clockFlag, 10, 64); err == nil {
		t := time.Unix(n, 0).UTC()
		return func() time.Time { return t }, nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.clockFlag)
	if err != nil {
		return nil, cli.Usagef("--clock: want RFC 3339, unix seconds or wall, got %q", c.clockFlag)
	}
	return func() time.Time { return t.UTC() }, nil
}

// open opens the engine in --data-dir with the given clock (nil: --clock);
// only a command that writes (create) may make a new data directory.
func (c *common) open(cmd string, create bool, now func() time.Time) (*rollup.Engine, error) {
	if c.dir == "" {
		return nil, cli.Usagef("%s: --data-dir is required", cmd)
	}
	if !create {
		if err := cli.ExistingDir(c.dir); err != nil {
			return nil, err
		}
	}
	if now == nil {
		var err error
		if now, err = c.clock(); err != nil {
			return nil, err
		}
	}
	return rollup.Open(c.dir, rollup.Options{Now: now})
}

// parseDays parses a Go duration, days ("30d") or years ("1y" = 365 days).
func parseDays(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "y": 365 * 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f <= 0 {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(f * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// human formats a duration as the guide does: "7 days", "1 year", "1-minute".
func human(d time.Duration) string {
	switch {
	case d == 0:
		return "forever"
	case d%(365*24*time.Hour) == 0:
		return plural(int(d/(365*24*time.Hour)), "year")
	case d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return cli.Duration(d)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// resName is "1-minute" for a rollup tier's resolution.
func resName(d time.Duration) string {
	h := human(d)
	if after, ok := strings.CutPrefix(h, "1 "); ok {
		return "1-" + after
	}
	return h
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }
