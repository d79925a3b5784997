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
	repair := fs.Bool("repair", false, "if the log is corrupt before its tail, cut it at the damage (losing what follows) and recover the rest")
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
	res, stats, err := replay(dir)
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		printStats(stdout, stats)
		if !repair {
			return res, fmt.Errorf("%w (run recover --repair to cut the log there, losing everything after it)", err)
		}
		rep, rerr := wal.Repair(dir)
		if rerr != nil {
			return res, rerr
		}
		fmt.Fprintf(stdout, "Repaired: cut %s at offset %s (%s bytes), removed segments %v; kept %s records\n",
			wal.SegmentName(rep.Damage.Segment), cli.Thousands(int(rep.Damage.Offset)), cli.Thousands(int(rep.TruncatedBytes)), rep.RemovedSegments, cli.Thousands(rep.KeptRecords))
		fmt.Fprintln(stdout, "Scanning WAL segments again...")
		res, stats, err = replay(dir)
	}
	if err != nil {
		return res, err
	}
	printStats(stdout, stats)
	if n := len(stats); n > 0 && stats[n-1].TornTail {
		rep, err := wal.Repair(dir)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(stdout, "Truncated the torn tail of %s at offset %s (%s bytes)\n",
			stats[n-1].Name, cli.Thousands(int(rep.Damage.Offset)), cli.Thousands(int(rep.TruncatedBytes)))
	}
	h := res.state
	fmt.Fprintf(stdout, "Recovered %s data points (%s series) in %s (%s points/s)\n",
		cli.Thousands(h.points), cli.Thousands(len(h.labels)), cli.Duration(res.elapsed), cli.Thousands(rate(h.points, res.elapsed)))
	if len(h.errs) > 0 {
		fmt.Fprintf(stdout, "In-memory state is WRONG:\n  %s\n", strings.Join(h.errs, "\n  "))
		return res, errVerify
	}
	fmt.Fprintln(stdout, "In-memory state rebuilt successfully! (every sample checked against the generator)")
	return res, nil
}

// replay reads the whole log into a new headState.
func replay(dir string) (recoverResult, []wal.SegmentStats, error) {
	res := recoverResult{state: newHeadState()}
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
