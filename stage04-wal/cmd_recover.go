package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
)

func cmdRecover(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "recover", "--data-dir DIR [--repair]", stderr)
	dir := fs.String("data-dir", "", "WAL directory")
	repair := fs.Bool("repair", false, "if the log is damaged before its tail, cut the damaged bytes out (keeping every intact record after them) and recover the rest")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	_, err := recoverPhase(*dir, *repair, stdout)
	return err
}

// recoverResult is what a replay rebuilt.
type recoverResult struct {
	state   *headState
	elapsed time.Duration
}

// recoverPhase replays dir into a headState, printing the guide's recovery
// report. A torn tail is cut (as a restarting server does); corruption
// before the tail is an error unless repair is set.
func recoverPhase(dir string, repair bool, stdout io.Writer) (recoverResult, error) {
	fmt.Fprintln(stdout, "Scanning WAL segments...")
	res, stats, err := replay(dir, false)
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		printStats(stdout, stats)
		if !repair {
			return res, fmt.Errorf("%w (run recover --repair to cut the damaged bytes out; intact records after them are kept)", err)
		}
		rep, rerr := wal.Repair(dir, wal.Options{})
		if rerr != nil {
			return res, rerr
		}
		fmt.Fprintf(stdout, "Repaired:\n  %s\n", strings.ReplaceAll(rep.String(), "\n", "\n  "))
		fmt.Fprintln(stdout, "Scanning WAL segments again...")
		res, stats, err = replay(dir, true)
	}
	if err != nil {
		return res, err
	}
	printStats(stdout, stats)
	if n := len(stats); n > 0 && stats[n-1].TornTail {
		if _, err := wal.Repair(dir, wal.Options{}); err != nil {
			return res, err
		}
		fmt.Fprintf(stdout, "Truncated the torn tail of %s at offset %s (%s bytes)\n",
			stats[n-1].Name, cli.Thousands(int(stats[n-1].TailOffset)), cli.Thousands(int(stats[n-1].TailBytes)))
	}
	h := res.state
	fmt.Fprintf(stdout, "Recovered %s data points (%s series) in %s (%s points/s)\n",
		cli.Thousands(h.points), cli.Thousands(len(h.labels)), cli.Duration(res.elapsed), cli.Thousands(rate(h.points, res.elapsed)))
	if len(h.errs) > 0 {
		fmt.Fprintf(stdout, "In-memory state is WRONG:\n  %s\n", strings.Join(h.errs, "\n  "))
		return res, errVerify
	}
	if h.orphans > 0 {
		fmt.Fprintf(stdout, "%s points dropped: their series record was in the damage\n", cli.Thousands(h.orphans))
	}
	if h.missing > 0 {
		fmt.Fprintf(stdout, "%s batches of a series were in the records the damage cost\n", cli.Thousands(h.missing))
	}
	fmt.Fprintln(stdout, "In-memory state rebuilt successfully! (every sample checked against the generator)")
	return res, nil
}

// replay reads the whole log into a new headState; repaired says that
// records were cut out of it, so batches may be missing.
func replay(dir string, repaired bool) (recoverResult, []wal.SegmentStats, error) {
	res := recoverResult{state: newHeadState()}
	res.state.repaired = repaired
	start := time.Now()
	r, err := wal.NewReader(dir)
	if err != nil {
		return res, nil, err
	}
	defer r.Close()
	var (
		series  []wal.RefSeries
		samples []wal.RefSample
	)
	for r.Next() {
		if series, samples, err = res.state.apply(r.Record(), series, samples); err != nil {
			seg, _, off := r.Position()
			return res, r.Stats(), fmt.Errorf("segment %d offset %d: %w", seg, off, err)
		}
	}
	res.elapsed = time.Since(start)
	return res, r.Stats(), r.Err()
}

// printStats prints one line per file: valid and corrupt records.
func printStats(w io.Writer, stats []wal.SegmentStats) {
	for _, s := range stats {
		line := fmt.Sprintf("  %s: %s valid records, %d corrupt", s.Name, cli.Thousands(s.Records), s.Corrupt)
		if s.TornTail {
			line += fmt.Sprintf(" (torn tail at offset %s: %s)", cli.Thousands(int(s.TailOffset)), s.TailReason)
		}
		fmt.Fprintln(w, line)
	}
}
