package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage12-cardinality/cardinality"
)

// openDir opens a stage06 data dir for reading and loads the cardinality
// state saved in it (a missing tracker file gives an empty tracker).
func openDir(dir string) (*tsdb.DB, *cardinality.Tracker, error) {
	if err := cli.ExistingDir(dir); err != nil {
		return nil, nil, err
	}
	db, err := tsdb.Open(dir, tsdb.Options{NoBackgroundCompaction: true, WALSync: wal.SyncBatch})
	if err != nil {
		return nil, nil, err
	}
	tr, err := cardinality.LoadTracker(stateDir(dir), cardinality.TrackerOptions{})
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return db, tr, nil
}

func cmdAnalyze(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "analyze", "--data-dir DIR [--high N] [--top N]", stderr)
	dataDir := fs.String("data-dir", "", "a stage06 data directory (required)")
	high := fs.Uint64("high", 10_000, "distinct values from which a label gets a finding")
	top := fs.Int("top", 10, "metrics listed among the top contributors")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	if *high == 0 || *top < 1 {
		return cli.Usagef("--high and --top must be at least 1")
	}
	db, tr, err := openDir(*dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	saved := tr.Total() > 0
	// The scan gives the exact counts of the stored series; without a
	// saved tracker it also rebuilds one from them.
	feed := tr
	if saved {
		feed = nil
	}
	ex, err := cardinality.Scan(db, feed)
	if err != nil {
		return err
	}
	if saved {
		fmt.Fprintf(stdout, "Tracker: saved in %s (it counts every series offered, stored or refused)\n\n", stateDir(*dataDir))
	} else {
		fmt.Fprintf(stdout, "Tracker: rebuilt from the %s stored series (no saved tracker in %s)\n\n", cli.Thousands(ex.Series), stateDir(*dataDir))
	}
	printReport(stdout, reportView{
		r:     cardinality.Analyze(tr, cardinality.AnalyzerOptions{HighCardinality: *high, TopContributors: *top}),
		exact: &ex, exactWhat: "stored", other: saved,
	})
	printTops(stdout, tr)
	lim, _, err := cardinality.LoadLimiter(stateDir(*dataDir), cardinality.Limits{}, cardinality.LimiterOptions{})
	if err != nil {
		return err
	}
	printLimits(stdout, lim, db.Head(), sortedMetrics(ex), tr)
	return nil
}

func sortedMetrics(ex cardinality.Exact) []string {
	out := make([]string, 0, len(ex.Metrics))
	for m := range ex.Metrics {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

func cmdForecast(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "forecast", "[--data-dir DIR] [--days N] [--limit N]", stderr)
	dataDir := fs.String("data-dir", "", "a data directory with a saved tracker (default: run the demo and use its history)")
	days := fs.Int("days", 30, "days ahead")
	limit := fs.Uint64("limit", defaultForecastMax, "the series count to warn about (0: none)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *days < 1 || *days > 3650 {
		return cli.Usagef("--days in [1, 3650]")
	}
	var history []cardinality.Snapshot
	if *dataDir == "" {
		d, cleanup, err := runDemo("", 24, stderr)
		if err != nil {
			return err
		}
		history = d.tr.History()
		cleanup()
	} else {
		if err := cli.ExistingDir(*dataDir); err != nil {
			return err
		}
		tr, err := cardinality.LoadTracker(stateDir(*dataDir), cardinality.TrackerOptions{})
		if err != nil {
			return err
		}
		history = tr.History()
	}
	f, err := cardinality.Predict(cardinality.TotalHistory(history), cardinality.ForecastOptions{Days: *days, Limit: float64(*limit)})
	if errors.Is(err, cardinality.ErrNoHistory) {
		return fmt.Errorf("%d hourly snapshots in %s: %w", len(history), stateDir(*dataDir), err)
	}
	if err != nil {
		return err
	}
	printForecast(stdout, f)
	return nil
}

// setFlags collects repeated --set METRIC=N.
type setFlags map[string]int

func (s setFlags) String() string { return fmt.Sprint(map[string]int(s)) }

func (s setFlags) Set(v string) error {
	metric, n, ok := strings.Cut(v, "=")
	if !ok || metric == "" {
		return fmt.Errorf("want METRIC=N, got %q", v)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 0 {
		return fmt.Errorf("limit of %s: want a number ≥ 0, got %q", metric, n)
	}
	s[metric] = limit
	return nil
}

func cmdLimits(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "limits", "--data-dir DIR [--default N] [--global N] [--set METRIC=N]...", stderr)
	dataDir := fs.String("data-dir", "", "a stage06 data directory (required)")
	def := fs.Int("default", -1, "set the per-metric default limit (0: none)")
	global := fs.Int("global", -1, "set the global limit (0: none)")
	set := setFlags{}
	fs.Var(set, "set", "set one metric's limit, METRIC=N (repeatable; 0: none)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	db, tr, err := openDir(*dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	lim, existed, err := cardinality.LoadLimiter(stateDir(*dataDir), cardinality.Limits{}, cardinality.LimiterOptions{})
	if err != nil {
		return err
	}
	if *def >= 0 || *global >= 0 || len(set) > 0 {
		l := lim.Limits()
		if *def >= 0 {
			l.Default = *def
		}
		if *global >= 0 {
			l.Global = *global
		}
		for m, n := range set {
			l.PerMetric[m] = n
		}
		lim.SetLimits(l)
		if err := lim.Save(stateDir(*dataDir)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Limits saved in %s; a server reading it refuses new series over them\n\n", stateDir(*dataDir))
	} else if !existed {
		fmt.Fprintf(stdout, "No limits set in %s (every series admitted)\n\n", stateDir(*dataDir))
	}
	names, err := headMetrics(db)
	if err != nil {
		return err
	}
	printLimits(stdout, lim, db.Head(), names, tr)
	for _, s := range lim.Status(db.Head(), names) {
		fmt.Fprintf(stdout, "  %-32s limit %8s  current %8s  dropped (last hour) %s\n",
			s.Metric, limitText(s.Limit), cli.Thousands(s.Current), thousands(s.Dropped.LastHour))
	}
	return nil
}

// headMetrics are the metric names in the head, the series limits apply
// to.
func headMetrics(db *tsdb.DB) ([]string, error) {
	q, err := db.Querier(db.Head().MinTime(), db.Head().MaxTime())
	if err != nil {
		return nil, err
	}
	defer q.Close()
	return q.LabelValues("__name__")
}
