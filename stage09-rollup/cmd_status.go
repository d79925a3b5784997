package main

import (
	"fmt"
	"io"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage09-rollup/rollup"
)

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "status", "--data-dir DIR", stderr)
	var c common
	c.register(fs)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	e, err := c.open("status", false, nil)
	if err != nil {
		return err
	}
	defer e.Close()
	return status(stdout, e)
}

// status prints the guide's two blocks, and what each tier stores.
func status(w io.Writer, e *rollup.Engine) error {
	st, err := e.Status()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "Rollup Configuration:")
	for i, t := range st {
		if i == 0 {
			fmt.Fprintf(w, "  Raw data retention: %s\n", human(t.Retention))
		} else {
			fmt.Fprintf(w, "  %s rollups: %s\n", resName(t.Resolution), human(t.Retention))
		}
	}
	fmt.Fprintln(w, "\nRollup Jobs:")
	for _, t := range st[1:] {
		if t.LastRun.IsZero() {
			fmt.Fprintf(w, "  Last %s rollup: never\n", resName(t.Resolution))
			continue
		}
		fmt.Fprintf(w, "  Last %s rollup: %s (processed %s of data in the run at %s)",
			resName(t.Resolution), stamp(t.LastTo.Add(-t.Resolution)), human(t.LastTo.Sub(t.LastFrom)), stamp(t.LastRun))
		if t.Dirty > 0 {
			fmt.Fprintf(w, "; %d dirty window(s) to recompute", t.Dirty)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nStorage:")
	for _, t := range st {
		oldest := "-"
		if !t.Oldest.IsZero() {
			oldest = t.Oldest.Format("2006-01-02")
		}
		fmt.Fprintf(w, "  %-4s %10s  %12s samples  %9s  oldest shard %s\n", t.Name, plural(t.Shards, "shard"), cli.Thousands(int(t.Points)), cli.Bytes(t.Bytes), oldest)
	}
	return nil
}

// printRun prints what a run and the retention after it did.
func printRun(w io.Writer, rep *rollup.Report, dels []rollup.TierDeletion) {
	for _, tr := range rep.Tiers {
		fmt.Fprintf(w, "  %-3s %s new windows", tr.Tier, cli.Thousands(tr.Windows))
		if tr.Windows > 0 {
			fmt.Fprintf(w, " [%s, %s)", stamp(time.UnixMilli(tr.From)), stamp(time.UnixMilli(tr.To)))
		}
		fmt.Fprintf(w, ", %d dirty recomputed, %s points written from %s read", tr.Dirty, cli.Thousands(int(tr.Points)), cli.Thousands(int(tr.Read)))
		if tr.Skipped > 0 {
			fmt.Fprintf(w, " (%s windows past retention skipped)", cli.Thousands(tr.Skipped))
		}
		fmt.Fprintln(w)
	}
	for _, d := range dels {
		if len(d.Shards) == 0 {
			continue
		}
		var b int64
		for _, s := range d.Shards {
			b += s.Bytes
		}
		fmt.Fprintf(w, "  retention %s: deleted %d shard(s) %s … %s, %s (+ %s of sketches)\n", d.Tier, len(d.Shards),
			d.Shards[0].ID, d.Shards[len(d.Shards)-1].ID, cli.Bytes(b), cli.Bytes(d.SketchBytes))
	}
	fmt.Fprintf(w, "  took %s\n", cli.Duration(rep.Duration))
}
