package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage12-cardinality/cardinality"
)

// reportView is what the report prints: the analysis, and the exact
// counts to show beside its estimates (nil: none), named by what they
// count ("offered" series in the demo, "stored" ones for a data dir).
type reportView struct {
	r         cardinality.Report
	exact     *cardinality.Exact
	exactWhat string
	// other: the exact counts are of another set than the estimates (a
	// saved tracker counts refused series too, the scan only stored ones):
	// shown beside them, without an error.
	other bool
}

// exactText is the exact count beside an estimate: with the error when
// both count the same set.
func (v reportView) exactText(est uint64, exact int) string {
	if v.other {
		return fmt.Sprintf("%s %s", v.exactWhat, cli.Thousands(exact))
	}
	return fmt.Sprintf("exact %s, error %s", cli.Thousands(exact), errPct(est, exact))
}

// signed prints a rate rounded, with its sign: +3,981 or -12.
func signed(x float64) string {
	n := int(math.Round(x))
	if n >= 0 {
		return "+" + cli.Thousands(n)
	}
	return cli.Thousands(n)
}

func thousands(n uint64) string { return cli.Thousands(int(min(n, math.MaxInt))) }

// errPct is the estimate's error against the exact count, signed.
func errPct(est uint64, exact int) string {
	if exact == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f%%", 100*(float64(est)-float64(exact))/float64(exact))
}

func printReport(w io.Writer, v reportView) {
	r := v.r
	fmt.Fprintln(w, "Cardinality Analysis Report")
	fmt.Fprintln(w, "===========================")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Total unique series: %s", thousands(r.Total))
	if v.exact != nil {
		if v.other {
			fmt.Fprintf(w, "   (%s %s)", v.exactWhat, cli.Thousands(v.exact.Series))
		} else {
			fmt.Fprintf(w, "   (exact %s %s: error %s)", cli.Thousands(v.exact.Series), v.exactWhat, errPct(r.Total, v.exact.Series))
		}
	}
	fmt.Fprintln(w)
	if r.HasGrowth {
		fmt.Fprintf(w, "Growth rate: %s/hour   (least squares over the hourly snapshots of the last 24 h)\n", signed(r.GrowthPerHour))
	} else {
		fmt.Fprintln(w, "Growth rate: unknown (fewer than two hourly snapshots)")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Top contributors to cardinality:")
	for i, c := range r.Contributors {
		name := c.Metric
		if c.Label != "" {
			name += "{" + c.Label + "=*}"
		}
		fmt.Fprintf(w, "  %d. %-32s %9s series (%.0f%%)", i+1, name, thousands(c.Series), 100*c.Share)
		if v.exact != nil {
			fmt.Fprintf(w, "   %s", v.exactText(c.Series, v.exact.Metrics[c.Metric]))
		}
		fmt.Fprintln(w)
		for _, f := range c.Findings {
			fmt.Fprintf(w, "     %s: %s\n", f.Severity, f.Message)
			fmt.Fprintf(w, "     Unique values: %s", thousands(f.Values))
			if v.exact != nil {
				if n, ok := v.exact.Values[f.Metric][f.Label]; ok {
					fmt.Fprintf(w, "   (%s)", v.exactText(f.Values, n))
				}
			}
			fmt.Fprintln(w)
			if len(f.Examples) > 0 {
				fmt.Fprintf(w, "     Sampled values: %s\n", strings.Join(quoteAll(f.Examples[:min(3, len(f.Examples))]), ", "))
			}
			fmt.Fprintf(w, "     Recommendation: %s\n", f.Recommendation)
		}
		fmt.Fprintln(w)
	}
	if n := len(r.Findings) - countFindings(r.Contributors); n > 0 {
		fmt.Fprintf(w, "  (%d more findings on metrics outside the top %d)\n\n", n, len(r.Contributors))
	}
	barChart(w, r.Contributors)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func countFindings(cs []cardinality.Contributor) int {
	n := 0
	for _, c := range cs {
		n += len(c.Findings)
	}
	return n
}

// barChart draws each contributor's share of the series as a bar.
func barChart(w io.Writer, cs []cardinality.Contributor) {
	if len(cs) == 0 {
		return
	}
	const width = 40
	wide := 0
	for _, c := range cs {
		wide = max(wide, len(c.Metric))
	}
	fmt.Fprintln(w, "Share of all series, by metric:")
	for _, c := range cs {
		n := int(math.Round(c.Share * width))
		bar := strings.Repeat("█", n) + strings.Repeat("·", width-n)
		fmt.Fprintf(w, "  %-*s %s %3.0f%%\n", wide, c.Metric, bar, 100*c.Share)
	}
	fmt.Fprintln(w)
}

// printLimits prints each metric's limit, exact count and dropped writes:
// the metrics over their limit or with drops in full, the rest in one line.
func printLimits(w io.Writer, lim *cardinality.Limiter, counts tsdb.SeriesCounts, metrics []string, tr *cardinality.Tracker) {
	l := lim.Limits()
	fmt.Fprintln(w, "Cardinality limits:")
	fmt.Fprintf(w, "  Default per metric: %s   Global: %s (current: %s series)\n",
		limitText(l.Default), limitText(l.Global), cli.Thousands(counts.NumSeries()))
	quiet := 0
	for _, s := range lim.Status(counts, metrics) {
		if !s.Exceeded && s.Dropped.Total == 0 {
			quiet++
			continue
		}
		offered := ""
		var card cardinality.MetricCard
		var known bool
		if tr != nil {
			if card, known = tr.Metric(s.Metric); known && card.Series > uint64(s.Current) {
				offered = fmt.Sprintf(", %s offered", thousands(card.Series))
			}
		}
		state := ""
		if s.Exceeded {
			state = " - EXCEEDED"
		}
		fmt.Fprintf(w, "  Metric %q: %s series (current: %s stored%s%s)\n", s.Metric, limitText(s.Limit), cli.Thousands(s.Current), offered, state)
		if s.Exceeded {
			if known && len(card.Labels) > 0 {
				fmt.Fprintf(w, "  Action: New series with unique %q values are being dropped\n", card.Labels[0].Name)
			} else {
				fmt.Fprintln(w, "  Action: New series are being dropped")
			}
		}
		fmt.Fprintf(w, "  Dropped in last hour: %s writes (since start: %s)\n", thousands(s.Dropped.LastHour), thousands(s.Dropped.Total))
	}
	if quiet > 0 {
		fmt.Fprintf(w, "  %d other metrics under their limits, nothing dropped\n", quiet)
	}
}

func limitText(n int) string {
	if n <= 0 {
		return "none"
	}
	return cli.Thousands(n)
}

// printForecast prints the guide's forecast lines.
func printForecast(w io.Writer, f cardinality.Forecast) {
	fmt.Fprintf(w, "Predicted cardinality in %d days: %s\n", f.Days, thousands(uint64(math.Round(f.Holt))))
	fmt.Fprintf(w, "  Holt's smoothing, trend %s/hour; least squares: %s (%s/hour); from %d hourly snapshots, now %s\n",
		signed(f.HoltPerHour), thousands(uint64(math.Round(f.Linear))),
		signed(f.LinearPerHour), f.Points, thousands(uint64(math.Round(f.Last))))
	if f.Limit <= 0 {
		return
	}
	when := func(m string, t interface{ IsZero() bool }, s string) string {
		if t.IsZero() {
			return m + ": not on the current trend"
		}
		return m + ": " + s
	}
	cross := when("Holt", f.HoltCrossing, f.HoltCrossing.Format("2006-01-02 15:04 MST")) + "; " +
		when("least squares", f.LinearCrossing, f.LinearCrossing.Format("2006-01-02 15:04 MST"))
	if f.Exceeds() {
		fmt.Fprintf(w, "WARNING: Exceeds recommended limit of %s\n", thousands(uint64(f.Limit)))
	} else {
		fmt.Fprintf(w, "Within the recommended limit of %s\n", thousands(uint64(f.Limit)))
	}
	fmt.Fprintf(w, "  Limit reached (%s)\n", cross)
}
