package main

import (
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
)

func cmdCheckpoint(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "checkpoint", "--data-dir DIR [--mint MS] [--drop-host N] [--compression snappy|zstd|none]", stderr)
	dir := fs.String("data-dir", "", "WAL directory")
	mint := fs.Int64("mint", 0, "samples before this time (ms) are persisted in blocks and dropped (default: the middle of the data)")
	drop := fs.Int("drop-host", -1, "series of this host are gone from the head and dropped (-1: keep all)")
	compFlag := fs.String("compression", "snappy", "how the checkpoint's records are stored: snappy, zstd or none")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	comp, err := wal.ParseCompression(*compFlag)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	_, err = checkpointPhase(*dir, *mint, *drop, comp, stdout)
	return err
}

// checkpointPhase does what a head does after cutting a block: open the WAL
// (as on restart), start a new segment, checkpoint everything before it and
// delete those segments.
func checkpointPhase(dir string, mint int64, dropHost int, comp wal.Compression, stdout io.Writer) (wal.CheckpointStats, error) {
	if mint == 0 {
		res, _, err := replay(dir, false)
		if err != nil {
			return wal.CheckpointStats{}, err
		}
		if res.state.points == 0 {
			return wal.CheckpointStats{}, fmt.Errorf("checkpoint: the log holds no samples")
		}
		mint = res.state.minT + (res.state.maxT-res.state.minT)/2
	}
	w, err := wal.Open(dir, wal.Options{Compression: comp})
	if err != nil {
		return wal.CheckpointStats{}, err
	}
	upto, err := w.NextSegment()
	if err != nil {
		w.Close()
		return wal.CheckpointStats{}, err
	}
	fmt.Fprintln(stdout, "Checkpointing WAL after persistent storage write...")
	fmt.Fprintf(stdout, "  samples before t=%d are in blocks now", mint)
	if dropHost >= 0 {
		fmt.Fprintf(stdout, "; host-%d is gone", dropHost)
	}
	fmt.Fprintln(stdout)
	keep := func(ref uint64) bool { return dropHost < 0 || int(ref/seriesPerHost) != dropHost }
	st, err := w.Checkpoint(upto, keep, mint)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, err
	}
	fmt.Fprintf(stdout, "Wrote %s: %s series kept (%s dropped), %s samples kept (%s dropped), %s\n",
		st.Name, cli.Thousands(st.SeriesKept), cli.Thousands(st.SeriesDropped), cli.Thousands(st.SamplesKept), cli.Thousands(st.SamplesDropped), mib(st.Bytes))
	for _, s := range st.SegmentsDeleted {
		fmt.Fprintf(stdout, "Truncated %s (data now in blocks and %s)\n", wal.SegmentName(s), st.Name)
	}
	fmt.Fprintf(stdout, "WAL directory now: %s\n", segmentList(dir))
	return st, nil
}
