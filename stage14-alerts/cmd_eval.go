package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/promapi"
	"github.com/tsdb-course/stage14-alerts/promtime"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

// cmdEval evaluates every rule of the files once at --time, writing
// nothing: what each recording rule would record and which alerts each
// alerting rule would raise.
func cmdEval(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "eval", "--time T (--data-dir DIR | --url URL) FILE...", stderr)
	at := fs.String("time", "", "evaluation time: RFC 3339 or unix seconds")
	dataDir := fs.String("data-dir", "", "stage06 DB to read")
	url := fs.String("url", "", "server with Prometheus's query API")
	files, err := cli.Parse(fs, args, "FILE...")
	if err != nil {
		return err
	}
	if err := cli.Require(fs, "time"); err != nil {
		return err
	}
	ts, err := promtime.ParseTime(*at)
	if err != nil {
		return cli.Usagef("eval: --time: %v", err)
	}
	var query rules.QueryFunc
	switch {
	case *url != "":
		c, err := promapi.New(*url, nil)
		if err != nil {
			return err
		}
		query = c.Query
	case *dataDir != "":
		db, err := tsdb.Open(*dataDir, tsdb.Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		query = rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), store.NewTSDB(db))
	default:
		return cli.Usagef("eval: --data-dir DIR or --url URL is required")
	}
	written := &capturedSamples{}
	m, err := rules.NewManager(rules.ManagerOptions{Query: query, Appendable: written})
	if err != nil {
		return err
	}
	groups, errs := m.LoadGroups(files...)
	if errs != nil {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return cli.ErrReported
	}
	ctx := context.Background()
	failed := false
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
		g.Eval(ctx, ts)
		fmt.Fprintf(stdout, "group %q (%s) at %s\n", g.Name(), g.File(), ts.UTC().Format(time.RFC3339))
		for _, r := range g.Rules() {
			st := r.Status()
			if st.LastError != nil {
				failed = true
				fmt.Fprintf(stdout, "  %s: error: %v\n", r.Name(), st.LastError)
				continue
			}
			switch r := r.(type) {
			case *rules.RecordingRule:
				out := written.named(r.Name())
				fmt.Fprintf(stdout, "  record %s: %d series\n", r.Name(), len(out))
				for _, s := range out {
					fmt.Fprintf(stdout, "    %s %s\n", promql.MetricString(s.Metric), promql.FormatValue(s.F))
				}
			case *rules.AlertingRule:
				alerts := r.ActiveAlerts()
				fmt.Fprintf(stdout, "  alert %s (for %s): %d alert(s)\n", r.Name(), shortDur(r.HoldDuration()), len(alerts))
				for _, a := range alerts {
					fmt.Fprintf(stdout, "    %s %s %s\n", promql.MetricString(a.Labels), promql.FormatValue(a.Value), a.State)
				}
			}
		}
	}
	if failed {
		return cli.ErrReported
	}
	return nil
}

// capturedSamples is an Appendable that keeps what the rules write, for printing:
// eval writes nothing to storage.
type capturedSamples struct{ samples promql.Vector }

func (c *capturedSamples) Appender(context.Context) rules.Appender { return c }
func (c *capturedSamples) Append(l model.Labels, t int64, v float64) error {
	if !promql.IsStaleNaN(v) {
		c.samples = append(c.samples, promql.Sample{Metric: l, T: t, F: v})
	}
	return nil
}
func (c *capturedSamples) Commit() error   { return nil }
func (c *capturedSamples) Rollback() error { return nil }

func (c *capturedSamples) named(name string) promql.Vector {
	var out promql.Vector
	for _, s := range c.samples {
		if s.Metric.Name() == name {
			out = append(out, s)
		}
	}
	return out
}
