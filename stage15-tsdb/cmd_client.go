package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/text"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
)

// clientFlags are the flags every client subcommand has.
type clientFlags struct {
	addr    *string
	timeout *time.Duration
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	return clientFlags{
		addr:    fs.String("addr", config.Default().Listen, "the server: host:port or an http(s) URL"),
		timeout: fs.Duration("timeout", 30*time.Second, "give up after this long (retries included)"),
	}
}

func (f clientFlags) dial() (*client.Client, context.Context, context.CancelFunc, error) {
	c, err := client.New(*f.addr, client.Options{Timeout: *f.timeout})
	if err != nil {
		return nil, nil, nil, cli.Usagef("--addr: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *f.timeout)
	return c, ctx, cancel, nil
}

// cmdWrite parses sample lines locally (so a bad line is reported before
// anything is sent) and writes them by remote write.
func cmdWrite(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "write", `'<metric>{labels} <value> [<unix s>]' ... [--addr HOST:PORT]`, stderr)
	cf := addClientFlags(fs)
	lines, err := cli.Parse(fs, args, "LINE...")
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	var series []remote.Series
	index := map[uint64][]int{}
	n, total := 0, 0
	for _, arg := range lines {
		for line := range strings.SplitSeq(arg, "\n") {
			n++
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			s, err := text.ParseLine(line)
			if err != nil {
				return cli.Usagef("line %d: %v", n, strings.TrimPrefix(err.Error(), text.ErrSyntax.Error()+": "))
			}
			if !s.HasTime {
				s.T = now
			}
			series = addSample(series, index, s.Labels, model.Sample{T: s.T, V: s.V})
			total++
		}
	}
	if total == 0 {
		return cli.Usagef("write: no samples given")
	}
	c, ctx, cancel, err := cf.dial()
	if err != nil {
		return err
	}
	defer cancel()
	if err := c.Write(ctx, series); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s samples of %s series to %s\n", cli.Thousands(total), cli.Thousands(len(series)), c.Addr())
	return nil
}

// addSample appends a sample to its series in series (found by hash).
func addSample(series []remote.Series, index map[uint64][]int, lset model.Labels, s model.Sample) []remote.Series {
	h := lset.Hash()
	for _, i := range index[h] {
		if series[i].Labels.Equal(lset) {
			series[i].Samples = append(series[i].Samples, s)
			return series
		}
	}
	index[h] = append(index[h], len(series))
	return append(series, remote.Series{Labels: lset, Samples: []model.Sample{s}})
}

// parseTime reads a time flag: unix seconds (fractions allowed), RFC 3339,
// "now", or a duration relative to now ("-1h", "now-1h").
func parseTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "now-") || strings.HasPrefix(s, "-"):
		d, err := config.ParseDuration(strings.TrimPrefix(strings.TrimPrefix(s, "now"), "-"))
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-time.Duration(d)), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(math.Round(f * 1000))), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want unix seconds, RFC 3339, now or now-1h", s)
}

// cmdQuery runs an instant or a range query and prints a table (or the
// server's JSON with --json).
func cmdQuery(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "query", "'<promql>' [--time T | --start T --end T --step D] [--json] [--addr HOST:PORT]", stderr)
	cf := addClientFlags(fs)
	at := fs.String("time", "", "evaluation time of an instant query (default: now)")
	startS := fs.String("start", "", "start of a range query: unix s, RFC 3339, now-1h …")
	endS := fs.String("end", "", "end of a range query (default: now)")
	stepS := fs.String("step", "", "resolution of a range query: 60s, 5m … (default: range/250, at least 1s)")
	raw := fs.Bool("json", false, "print the server's JSON answer as it came")
	pos, err := cli.Parse(fs, args, "PROMQL")
	if err != nil {
		return err
	}
	now := time.Now()
	isRange := *startS != "" || *endS != "" || *stepS != ""
	if isRange && *at != "" {
		return cli.Usagef("query: --time is for an instant query; a range query takes --start, --end and --step")
	}
	c, ctx, cancel, err := cf.dial()
	if err != nil {
		return err
	}
	defer cancel()
	var res *client.Result
	if isRange {
		if *startS == "" {
			return cli.Usagef("query: a range query needs --start")
		}
		start, err := parseTime(*startS, now)
		if err != nil {
			return cli.Usagef("--start: %v", err)
		}
		end := now
		if *endS != "" {
			if end, err = parseTime(*endS, now); err != nil {
				return cli.Usagef("--end: %v", err)
			}
		}
		step := max(end.Sub(start)/250, time.Second).Round(time.Second)
		if *stepS != "" {
			if f, err := strconv.ParseFloat(*stepS, 64); err == nil {
				step = time.Duration(f * float64(time.Second))
			} else if d, err := config.ParseDuration(*stepS); err == nil {
				step = time.Duration(d)
			} else {
				return cli.Usagef("--step: %q is not a duration", *stepS)
			}
		}
		if res, err = c.QueryRange(ctx, pos[0], start, end, step); err != nil {
			return err
		}
	} else {
		t := time.Time{}
		if *at != "" {
			if t, err = parseTime(*at, now); err != nil {
				return cli.Usagef("--time: %v", err)
			}
		}
		if res, err = c.Query(ctx, pos[0], t); err != nil {
			return err
		}
	}
	if *raw {
		_, err := stdout.Write(res.Raw)
		return err
	}
	printResult(stdout, res)
	return nil
}

// printResult prints a query result as a table.
func printResult(w io.Writer, res *client.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch res.Type {
	case client.ValueVector:
		fmt.Fprintln(tw, "SERIES\tTIME\tVALUE")
		for _, s := range res.Vector {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Metric, fmtTime(s.T), fmtValue(s.V))
		}
		tw.Flush()
		fmt.Fprintf(w, "%s series\n", cli.Thousands(len(res.Vector)))
	case client.ValueMatrix:
		fmt.Fprintln(tw, "SERIES\tTIME\tVALUE")
		points := 0
		for _, s := range res.Matrix {
			for i, p := range s.Samples {
				name := ""
				if i == 0 {
					name = s.Metric.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, fmtTime(p.T), fmtValue(p.V))
			}
			points += len(s.Samples)
		}
		tw.Flush()
		fmt.Fprintf(w, "%s series, %s points\n", cli.Thousands(len(res.Matrix)), cli.Thousands(points))
	case client.ValueScalar:
		fmt.Fprintln(tw, "SCALAR\tTIME")
		fmt.Fprintf(tw, "%s\t%s\n", fmtValue(res.Scalar.V), fmtTime(res.Scalar.T))
		tw.Flush()
	case client.ValueString:
		fmt.Fprintln(tw, "STRING\tTIME")
		fmt.Fprintf(tw, "%q\t%s\n", res.String, fmtTime(res.Scalar.T))
		tw.Flush()
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func fmtTime(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if ms%1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// cmdInspect prints what the server holds: status, blocks, head, and the
// series counts by metric name and by label.
func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "inspect", "[--addr HOST:PORT] [--top N]", stderr)
	cf := addClientFlags(fs)
	top := fs.Int("top", 10, "entries in each top-N list")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *top < 1 {
		return cli.Usagef("--top must be at least 1")
	}
	c, ctx, cancel, err := cf.dial()
	if err != nil {
		return err
	}
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	bl, err := c.Blocks(ctx)
	if err != nil {
		return err
	}
	ts, err := c.TSDBStatus(ctx, *top)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Server %s: %s\n", c.Addr(), st.Status)
	fmt.Fprintf(stdout, "  storage:   %s series, %s samples, %s on disk, compression %.1fx\n",
		cli.Thousands(int(st.Storage.TotalSeries)), cli.Thousands(int(st.Storage.TotalSamples)),
		cli.Bytes(st.Storage.DiskUsageBytes), st.Storage.CompressionRatio)
	fmt.Fprintf(stdout, "  ingestion: %s samples/s, %s active series\n", cli.Rate(st.Ingestion.SamplesPerSecond), cli.Thousands(int(st.Ingestion.ActiveSeries)))
	fmt.Fprintf(stdout, "  queries:   %s/s, %s ms average\n", cli.Sig3(st.Query.QueriesPerSecond), cli.Sig3(st.Query.AvgLatencyMs))

	fmt.Fprintf(stdout, "\nBlocks (%d)\n", len(bl.Blocks))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(bl.Blocks) > 0 {
		fmt.Fprintln(tw, "ULID\tMIN TIME\tMAX TIME\tSERIES\tSAMPLES\tCHUNKS\tLEVEL\tSIZE\t")
		for _, b := range bl.Blocks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", b.ULID, fmtTime(b.MinTime), fmtTime(b.MaxTime),
				cli.Thousands(int(b.NumSeries)), cli.Thousands(int(b.NumSamples)), cli.Thousands(int(b.NumChunks)), b.Level, cli.Bytes(b.Bytes))
		}
		tw.Flush()
	}
	h := bl.Head
	fmt.Fprintf(stdout, "\nHead: %s series, %s samples, %s chunks (%s)", cli.Thousands(int(h.NumSeries)),
		cli.Thousands(int(h.NumSamples)), cli.Thousands(int(h.Chunks)), cli.Bytes(h.ChunkBytes))
	if h.NumSeries > 0 {
		fmt.Fprintf(stdout, ", %s to %s", fmtTime(h.MinTime), fmtTime(h.MaxTime))
	}
	fmt.Fprintln(stdout)
	for _, list := range []struct {
		title string
		l     []client.NameCount
	}{
		{"Series by metric name", ts.SeriesCountByMetricName},
		{"Series by label pair", ts.SeriesCountByLabelValuePair},
		{"Values by label name", ts.LabelValueCountByLabelName},
	} {
		if len(list.l) == 0 {
			continue
		}
		fmt.Fprintf(stdout, "\n%s (head, top %d)\n", list.title, *top)
		for _, e := range list.l {
			fmt.Fprintf(tw, "%s\t  %s\n", cli.Thousands(int(e.Value)), e.Name)
		}
		tw.Flush()
	}
	return nil
}

// cmdCompact starts the compactions that are due on the server and
// follows the job until it ends, printing each block as it is written or
// deleted, and a line on stderr every few seconds while nothing changes.
func cmdCompact(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "compact", "[--addr HOST:PORT] [--poll 500ms]", stderr)
	cf := addClientFlags(fs)
	poll := fs.Duration("poll", 500*time.Millisecond, "how often to ask the server how the job is going")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *poll <= 0 {
		return cli.Usagef("--poll must be positive")
	}
	c, err := client.New(*cf.addr, client.Options{Timeout: *cf.timeout})
	if err != nil {
		return cli.Usagef("--addr: %v", err)
	}
	// No deadline for the whole job (--timeout bounds each request): a
	// head spanning months takes as long as it takes.
	ctx := context.Background()
	job, err := c.Compact(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "compaction job %d started %s\n", job.ID, job.Started)
	blocks, deleted := 0, 0
	lastNews := time.Now()
	for {
		for _, b := range job.Blocks[blocks:] {
			printCompacted(stdout, b)
		}
		for _, d := range job.Deleted[deleted:] {
			fmt.Fprintf(stdout, "%s  deleted by retention (%s)  %s to %s, %s\n", d.ULID, d.Reason, fmtTime(d.MinTime), fmtTime(d.MaxTime), cli.Bytes(d.Bytes))
		}
		if len(job.Blocks) > blocks || len(job.Deleted) > deleted {
			lastNews = time.Now()
		}
		blocks, deleted = len(job.Blocks), len(job.Deleted)
		if job.State != client.JobRunning {
			break
		}
		if time.Since(lastNews) >= 5*time.Second {
			fmt.Fprintf(stderr, "compacting: %d blocks written, %d deleted, %s\n", blocks, deleted, cli.Duration(time.Duration(job.Seconds*float64(time.Second))))
			lastNews = time.Now()
		}
		time.Sleep(*poll)
		if job, err = c.CompactJob(ctx, job.ID); err != nil {
			return err
		}
	}
	if job.State == client.JobFailed {
		return fmt.Errorf("compaction job %d failed after %s: %s", job.ID, cli.Duration(time.Duration(job.Seconds*float64(time.Second))), job.Error)
	}
	if blocks == 0 && deleted == 0 {
		fmt.Fprintln(stdout, "nothing to compact: the head spans less than 1.5 block ranges, no blocks are due for merging and none is past the retention")
	}
	return nil
}

// printCompacted prints a block written by a compaction.
func printCompacted(w io.Writer, b client.CompactedBlock) {
	what := "head → block"
	if b.Parents > 0 {
		what = fmt.Sprintf("%d blocks → 1", b.Parents)
	}
	fmt.Fprintf(w, "%s  %s  %s to %s, %s series, %s samples, level %d, %s, %s\n", b.ULID, what,
		fmtTime(b.MinTime), fmtTime(b.MaxTime), cli.Thousands(int(b.NumSeries)), cli.Thousands(int(b.NumSamples)),
		b.Level, cli.Bytes(b.Bytes), cli.Duration(time.Duration(b.Seconds*float64(time.Second))))
}

// cmdSnapshot asks the server for a snapshot, or lists (`snapshot list`)
// or deletes (`snapshot delete NAME...`) snapshots. All are admin API calls:
// the server must run with --web.enable-admin-api.
func cmdSnapshot(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return cmdSnapshotList(args[1:], stdout, stderr)
		case "delete":
			return cmdSnapshotDelete(args[1:], stdout, stderr)
		}
	}
	fs := cli.NewFlags(prog, "snapshot", "[--skip-head] [--addr HOST:PORT] | list | delete NAME...", stderr)
	cf := addClientFlags(fs)
	skip := fs.Bool("skip-head", false, "leave out the head (samples not yet in a block)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, ctx, cancel, err := cf.dial()
	if err != nil {
		return err
	}
	defer cancel()
	name, err := c.Snapshot(ctx, *skip)
	if err != nil {
		return err
	}
	dir := snapshotDir(ctx, c, name)
	fmt.Fprintf(stdout, "snapshot %s written to %s\nserve it with: %s start --data-dir %s\n", name, dir, prog, dir)
	return nil
}

// snapshotDir is where the server put snapshot name: <data_dir>/snapshots/
// <name>, data_dir from the server's configuration, made absolute with its
// working directory. If the server does not say, the path is given
// relative to its data directory.
func snapshotDir(ctx context.Context, c *client.Client, name string) string {
	rel := filepath.Join("snapshots", name)
	y, err := c.Config(ctx)
	if err != nil {
		return "<the server's data directory>/" + rel
	}
	cfg, err := config.Parse([]byte(y))
	if err != nil {
		return "<the server's data directory>/" + rel
	}
	dir := filepath.Join(cfg.DataDir, rel)
	if !filepath.IsAbs(dir) {
		if ri, err := c.RuntimeInfo(ctx); err == nil && ri.CWD != "" {
			dir = filepath.Join(ri.CWD, dir)
		}
	}
	return dir
}

func cmdSnapshotList(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "snapshot list", "[--addr HOST:PORT]", stderr)
	cf := addClientFlags(fs)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, ctx, cancel, err := cf.dial()
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.Snapshots(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no snapshots")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTAKEN\tBLOCKS\tHEAD\tSIZE")
	for _, s := range list {
		head := "no"
		if s.WithHead {
			head = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, s.Time, s.Blocks, head, cli.Bytes(s.Bytes))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "(sizes count hard-linked files in full; they share their bytes with the data directory)")
	return nil
}

func cmdSnapshotDelete(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "snapshot delete", "NAME... [--addr HOST:PORT]", stderr)
	cf := addClientFlags(fs)
	names, err := cli.Parse(fs, args, "NAME...")
	if err != nil {
		return err
	}
	c, ctx, cancel, err := cf.dial()
	if err != nil {
		return err
	}
	defer cancel()
	for _, n := range names {
		if err := c.DeleteSnapshot(ctx, n); err != nil {
			return fmt.Errorf("snapshot %s: %w", n, err)
		}
		fmt.Fprintf(stdout, "deleted snapshot %s\n", n)
	}
	return nil
}
