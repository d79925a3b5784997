package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage07-tsm/influxql"
	"github.com/tsdb-course/stage08-shards/shard"
)

func cmdQuery(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "query", `--data-dir DIR [--workers N] [--max-rows N] "SELECT …"`, stderr)
	var c common
	c.register(fs, false)
	fs.IntVar(&c.workers, "workers", 0, "shards read at once (default: GOMAXPROCS)")
	maxRows := fs.Int("max-rows", 0, "print up to N rows per series (0: print only the counts)")
	pos, err := cli.Parse(fs, args, "QUERY")
	if err != nil {
		return err
	}
	q := pos[0]
	if _, err := influxql.Parse(q); err != nil {
		return queryError(q, err)
	}
	m, err := c.open("query", false)
	if err != nil {
		return err
	}
	defer m.Close()
	now, _ := c.clock()
	_, err = query(stdout, m, q, now(), *maxRows)
	return err
}

// query runs q and prints the plan, then the result's size and time.
func query(w io.Writer, m *shard.Manager, q string, now time.Time, maxRows int) (*shard.QueryResult, error) {
	start := time.Now()
	res, err := m.InfluxQL(context.Background(), q, now)
	el := time.Since(start)
	if err != nil {
		return nil, queryError(q, err)
	}
	var ids []string
	for _, s := range res.Plan.Shards {
		ids = append(ids, s.ID)
	}
	if len(ids) == 0 {
		ids = []string{"(none)"}
	}
	fmt.Fprintf(w, "Query plan:\n  Shards to scan: %s\n  Parallel execution: %d workers\n  Estimated points: %s\n\n",
		strings.Join(ids, ", "), res.Plan.Workers, cli.Thousands(int(res.Plan.EstimatedPoints)))
	if maxRows > 0 {
		var b strings.Builder
		influxql.Format(res.Result, &b, maxRows)
		fmt.Fprint(w, b.String())
	}
	rows := 0
	for _, s := range res.Series {
		rows += len(s.Rows)
	}
	fmt.Fprintf(w, "Results: %s points in %s (%s series, %s rows)\n", cli.Thousands(res.Result.Points), cli.Duration(el),
		cli.Thousands(res.SeriesScanned), cli.Thousands(rows))
	return res, nil
}

func queryError(q string, err error) error {
	var qe *influxql.Error
	if errors.As(err, &qe) {
		return fmt.Errorf("query: %v\n  %s", qe, strings.ReplaceAll(qe.Caret(q), "\n", "\n  "))
	}
	return err
}
