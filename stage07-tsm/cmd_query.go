package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage07-tsm/influxql"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

func cmdQuery(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "query", `--data-dir DIR [--now TIME] [--max-rows N] "SELECT …"`, stderr)
	var ef engineFlags
	fs.StringVar(&ef.dir, "data-dir", "", "engine directory")
	nowFlag := fs.String("now", "", "what now() means: RFC 3339 or integer ns (default: the clock)")
	maxRows := fs.Int("max-rows", 20, "rows to print per series (0: all)")
	pos, err := cli.Parse(fs, args, "QUERY")
	if err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	if err := cli.ExistingDir(ef.dir); err != nil {
		return err
	}
	now := time.Now()
	if *nowFlag != "" {
		if now, err = parseTime(*nowFlag); err != nil {
			return cli.Usagef("query: --now: %v", err)
		}
	}
	q := pos[0]
	if _, err := influxql.Parse(q); err != nil {
		return queryError(q, err)
	}
	e, err := ef.open(stdout)
	if err != nil {
		return err
	}
	defer e.Close()
	res, el, err := runQuery(e, q, now)
	if err != nil {
		return queryError(q, err)
	}
	var b strings.Builder
	influxql.Format(res, &b, *maxRows)
	fmt.Fprint(stdout, b.String())
	printQueryStats(stdout, res, el)
	return nil
}

func runQuery(e *tsm.Engine, q string, now time.Time) (*influxql.Result, time.Duration, error) {
	start := time.Now()
	res, err := influxql.Run(e, q, now)
	return res, time.Since(start), err
}

func queryError(q string, err error) error {
	var qe *influxql.Error
	if errors.As(err, &qe) {
		return fmt.Errorf("query: %v\n%s", qe, indent(qe.Caret(q)))
	}
	return err
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

func printQueryStats(w io.Writer, res *influxql.Result, el time.Duration) {
	s := res.Stats
	fmt.Fprintf(w, "Files scanned: %d of %d TSM (using index: %d index searches, %d key lookups rejected by bloom filters), %d blocks decoded, %s values from the cache\n",
		s.FilesRead, s.Files, s.IndexSearches, s.BloomRejects, s.Blocks, cli.Thousands(s.CacheValues))
	fmt.Fprintf(w, "Points returned: %s (%s series, selected with the series index)\n", cli.Thousands(res.Points), cli.Thousands(res.SeriesScanned))
	fmt.Fprintf(w, "Query time: %s\n", cli.Duration(el))
}

func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(0, n), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
