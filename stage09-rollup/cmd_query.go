package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage09-rollup/rollup"
)

func cmdQuery(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "query", `--data-dir DIR [--range 30d] "avg(cpu_usage) WHERE host='server1'"`, stderr)
	var c common
	c.register(fs)
	rng := fs.String("range", "1d", "the range, ending at --clock: a Go duration or 30d, 1y")
	pos, err := cli.Parse(fs, args, "QUERY")
	if err != nil {
		return err
	}
	q, err := parseQuery(pos[0])
	if err != nil {
		return err
	}
	d, err := parseDays(*rng)
	if err != nil {
		return cli.Usagef("--range: %v", err)
	}
	e, err := c.open("query", false, nil)
	if err != nil {
		return err
	}
	defer e.Close()
	now, _ := c.clock()
	_, err = query(stdout, e, q, now(), d)
	return err
}

func parseQuery(s string) (*rollup.Query, error) {
	q, err := rollup.ParseQuery(s)
	var pe *rollup.ParseError
	if errors.As(err, &pe) {
		return nil, cli.Usagef("%v\n  %s", pe, strings.ReplaceAll(pe.Caret(s), "\n", "\n  "))
	}
	return q, err
}

// query runs q over the range ending now and prints the guide's plan and
// result.
func query(w io.Writer, e *rollup.Engine, q *rollup.Query, now time.Time, rng time.Duration) (*rollup.Result, error) {
	r, err := e.Query(context.Background(), q, now.Add(-rng).UnixMilli(), now.UnixMilli())
	if err != nil {
		return nil, err
	}
	tiers := e.Tiers()
	fmt.Fprintln(w, "Query plan:")
	var parts []string
	for i, s := range r.Segments {
		ago := func(t int64) float64 { return float64(now.UnixMilli()-t) / 86_400_000 }
		what := fmt.Sprintf("Days %.0f-%.0f", ago(s.To)+1, ago(s.From))
		if i == 0 && s.To >= now.UnixMilli() {
			what = "Last " + human(time.Duration(ago(s.From)*float64(24*time.Hour)).Round(time.Hour))
		}
		src := "raw data"
		if res := tiers[s.Index].Resolution; res > 0 {
			src = resName(res) + " rollups"
		}
		fmt.Fprintf(w, "  %-14s %-17s %s → %s  %11s points  (%s)\n", what+":", src, stamp(time.UnixMilli(s.From)), stamp(time.UnixMilli(s.To)),
			cli.Thousands(int(s.Points)), cli.Duration(s.Elapsed))
		parts = append(parts, cli.Thousands(int(s.Points)))
	}
	points, raw := r.Points()
	if len(parts) == 0 {
		fmt.Fprintln(w, "  (no tier holds data in this range)")
	}
	total := strings.Join(parts, " + ")
	if len(parts) > 1 {
		total += " = " + cli.Thousands(int(points))
	}
	fmt.Fprintf(w, "  Total points scanned: %s\n", total)
	switch {
	case points > 0 && raw > points:
		fmt.Fprintf(w, "  (vs. %s without rollups - %sx fewer points!)\n", cli.Thousands(int(raw)), cli.Sig3(float64(raw)/float64(points)))
	case points > 0:
		fmt.Fprintf(w, "  (raw data only: the range is within the raw tier's retention)\n")
	}
	a := r.Aggregate
	fmt.Fprintf(w, "\nResult: %s=%s", q.Func, cli.Sig3(r.Value))
	if q.Func.Kind != rollup.FuncCount {
		fmt.Fprintf(w, " (avg=%s, min=%s, max=%s, count=%s", cli.Sig3(a.Avg()), cli.Sig3(a.Min), cli.Sig3(a.Max), cli.Thousands(int(a.Count)))
		fmt.Fprintf(w, ", %d series)", r.Series)
	}
	fmt.Fprintf(w, " in %s\n", cli.Duration(r.Elapsed))
	return r, nil
}
