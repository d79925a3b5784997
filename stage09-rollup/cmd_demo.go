package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
	"github.com/tsdb-course/stage09-rollup/rollup"
)

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--days N] [--series N] [--interval D] [--data-dir DIR]", stderr)
	dir := fs.String("data-dir", "", "data directory (default: a new temp dir, removed at the end)")
	days := fs.Int("days", 120, "days of data ending at 2024-01-15 14:35 UTC")
	series := fs.Int("series", 3, "series (hosts)")
	interval := fs.Duration("interval", 30*time.Second, "time between raw samples")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *days < 3 || *series < 2 || *interval < time.Second {
		return cli.Usagef("demo: --days ≥ 3, --series ≥ 2, --interval ≥ 1s")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "stage09-rollup-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	start := demoNow.Add(-time.Duration(*days) * 24 * time.Hour)
	clk := &simClock{}
	clk.set(start)
	e, err := rollup.Open(*dir, rollup.Options{Now: clk.now})
	if err != nil {
		return err
	}
	defer func() { e.Close() }()
	fmt.Fprintf(stdout, "Rollup engine in %s: tiers raw → 1m → 1h → 1d, one stage08 shard manager each (TSM shards)\n\n", *dir)

	fmt.Fprintln(stdout, "[Load] the clock follows the data; the jobs run once a simulated day")
	w := newWorkload(*series, start, demoNow, *interval)
	if err := load(stdout, stderr, e, w, clk); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\n$ stage09-rollup status   (clock %s)\n", stamp(clk.now()))
	if err := status(stdout, e); err != nil {
		return err
	}

	for _, c := range []struct {
		q   string
		rng time.Duration
		arg string
	}{
		{"avg(cpu_usage) WHERE host='server1'", 30 * 24 * time.Hour, "30d"},
		{"avg(cpu_usage)", 365 * 24 * time.Hour, "1y"},
		{"p99(cpu_usage) WHERE region='us-east'", 90 * 24 * time.Hour, "90d"},
		{"max(cpu_usage) WHERE host='server2'", 6 * time.Hour, "6h"},
	} {
		fmt.Fprintf(stdout, "\n$ stage09-rollup query \"%s\" --range=%s\n", c.q, c.arg)
		q, err := parseQuery(c.q)
		if err != nil {
			return err
		}
		if _, err := query(stdout, e, q, clk.now(), c.rng); err != nil {
			return err
		}
	}

	if err := demoLate(stdout, e, clk, w); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\n[Retention] the clock moves 3 days on, no new data; $ stage09-rollup run\n")
	clk.set(clk.now().Add(3 * 24 * time.Hour))
	if err := runJobs(stdout, e); err != nil {
		return err
	}
	if err := status(stdout, e); err != nil {
		return err
	}
	return chart(stdout, e, w)
}

// demoLate writes a late spike into yesterday, shows the windows it
// dirtied, runs the jobs and shows the 1-day window before and after.
func demoLate(w io.Writer, e *rollup.Engine, clk *simClock, wl *workload) error {
	at := clk.now().Add(-24 * time.Hour).Truncate(time.Hour).Add(-4*time.Hour + 15*time.Second)
	dayStart := at.Truncate(24 * time.Hour)
	host := wl.lsets[1]
	ms := []*rollupMatcher{{"host", host.Get("host")}}
	before, err := dayWindow(e, dayStart, ms)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n[Late sample] %s: 1.0 at %s, in windows already rolled up\n", host, stamp(at))
	if err := e.Write([]shard.Series{{Labels: host, Samples: []model.Sample{{T: at.UnixMilli(), V: 1}}}}); err != nil {
		return err
	}
	st, err := e.Status()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  dirty windows: 1m %d, 1h %d, 1d %d (a parent is marked when its child is recomputed)\n", st[1].Dirty, st[2].Dirty, st[3].Dirty)
	fmt.Fprintln(w, "$ stage09-rollup run")
	rep, err := e.Run(context.Background())
	if err != nil {
		return err
	}
	printRun(w, rep, nil)
	after, err := dayWindow(e, dayStart, ms)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  1d window %s of %s: count %s → %s, max %s → %s (recomputed from the 1h tier, replaced, not added)\n",
		dayStart.Format("2006-01-02"), host.Get("host"), cli.Thousands(int(before.Count)), cli.Thousands(int(after.Count)),
		cli.Sig3(before.Max), cli.Sig3(after.Max))
	if after.Count != before.Count+1 || after.Max != 1 {
		return fmt.Errorf("demo: the late sample did not reach the 1d tier exactly once")
	}
	return nil
}

type rollupMatcher struct{ name, value string }

// dayWindow is the 1d tier's window starting at day, merged over the
// series matching ms.
func dayWindow(e *rollup.Engine, day time.Time, ms []*rollupMatcher) (rollup.Aggregate, error) {
	var where []string
	for _, m := range ms {
		where = append(where, fmt.Sprintf("%s='%s'", m.name, m.value))
	}
	q, err := rollup.ParseQuery("count(cpu_usage) WHERE " + strings.Join(where, " AND "))
	if err != nil {
		return rollup.Aggregate{}, err
	}
	rs, err := e.ReadTier(context.Background(), 3, day.UnixMilli(), day.Add(24*time.Hour).UnixMilli(), false, q.Matchers...)
	if err != nil {
		return rollup.Aggregate{}, err
	}
	var a rollup.Aggregate
	for _, s := range rs {
		for _, p := range s.Points {
			a.Merge(p.Aggregate)
		}
	}
	return a, nil
}

// chart draws the daily avg of all series from the 1d tier.
func chart(w io.Writer, e *rollup.Engine, wl *workload) error {
	rs, err := e.ReadTier(context.Background(), 3, wl.start, wl.end, false)
	if err != nil {
		return err
	}
	byDay := map[int64]*rollup.Aggregate{}
	var first, last int64 = math.MaxInt64, math.MinInt64
	for _, s := range rs {
		for _, p := range s.Points {
			a := byDay[p.T]
			if a == nil {
				a = &rollup.Aggregate{}
				byDay[p.T] = a
			}
			a.Merge(p.Aggregate)
			first, last = min(first, p.T), max(last, p.T)
		}
	}
	if len(byDay) == 0 {
		return nil
	}
	const height, width = 10, 60
	ndays := int((last-first)/86_400_000) + 1
	per := (ndays + width - 1) / width
	cols := (ndays + per - 1) / per
	vals := make([]float64, cols)
	lo, hi := math.Inf(1), math.Inf(-1)
	for c := range cols {
		var a rollup.Aggregate
		for d := c * per; d < (c+1)*per && d < ndays; d++ {
			if x := byDay[first+int64(d)*86_400_000]; x != nil {
				a.Merge(*x)
			}
		}
		vals[c] = a.Avg()
		if !math.IsNaN(vals[c]) {
			lo, hi = min(lo, vals[c]), max(hi, vals[c])
		}
	}
	fmt.Fprintf(w, "\nDaily avg(cpu_usage), all series, from the 1d tier (%d days, %d per column):\n", ndays, per)
	for r := height - 1; r >= 0; r-- {
		level := lo + (hi-lo)*float64(r)/float64(height-1)
		fmt.Fprintf(w, "%6.3f |", level)
		for _, v := range vals {
			switch {
			case math.IsNaN(v):
				fmt.Fprint(w, " ")
			case v >= level-(hi-lo)/float64(2*(height-1)):
				fmt.Fprint(w, "█")
			default:
				fmt.Fprint(w, " ")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "       +%s\n        %-*s%s\n", strings.Repeat("-", cols), cols-10, time.UnixMilli(first).UTC().Format("2006-01-02"),
		time.UnixMilli(last).UTC().Format("2006-01-02"))
	return nil
}
