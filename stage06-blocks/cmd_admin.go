package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

func cmdIngest(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "ingest", "--data-dir DIR [--series N] [--hours H] [--interval 15s]", stderr)
	dataDir := fs.String("data-dir", "", "the DB directory (required; created if needed)")
	series := fs.Int("series", 10_000, "number of series")
	hours := fs.Float64("hours", 1, "hours of simulated time to ingest")
	interval := fs.Duration("interval", 15*time.Second, "scrape interval")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		return cli.Usagef("--data-dir is required")
	}
	if *series < 1 || *series > 1_000_000 || *hours <= 0 || *interval < time.Millisecond {
		return cli.Usagef("--series in [1, 1000000], --hours > 0 and --interval ≥ 1ms")
	}
	// No background compaction: ingest only writes (head, WAL), so that
	// `compact` shows the head being cut into blocks and the blocks merged.
	db, err := tsdb.Open(*dataDir, tsdb.Options{WALSync: wal.SyncBatch, NoBackgroundCompaction: true})
	if err != nil {
		return err
	}
	t0 := demoStart
	if mt := db.Head().MaxTime(); mt > t0 {
		t0 = mt + interval.Milliseconds()
	}
	for _, b := range db.Blocks() {
		t0 = max(t0, b.MaxTime)
	}
	step := interval.Milliseconds()
	t1 := t0 + int64(*hours*float64(tsdb.Hour))
	p := cli.NewProgress(stderr, "samples", int64(*series)*((t1-t0+step-1)/step), cli.DefaultInterval)
	start := time.Now()
	n, err := newScraper(*series).run(db, t0, t1, step, p)
	p.Done()
	if err != nil {
		db.Close()
		return err
	}
	el := time.Since(start)
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Ingested %s samples across %s series (%d - %d) in %s (%s samples/s)\n",
		cli.Thousands(n), cli.Thousands(*series), t0/1000, t1/1000, cli.Duration(el), cli.Rate(float64(n)/el.Seconds()))
	return nil
}

func cmdCompact(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "compact", "--data-dir DIR [--flush]", stderr)
	dataDir := fs.String("data-dir", "", "the DB directory (required)")
	flush := fs.Bool("flush", false, "cut the whole head into blocks first")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		return cli.Usagef("--data-dir is required")
	}
	if err := cli.ExistingDir(*dataDir); err != nil {
		return err
	}
	db, err := tsdb.Open(*dataDir, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		return err
	}
	defer db.Close()
	var rep []tsdb.CompactStats
	if *flush {
		if rep, err = db.FlushHead(); err != nil {
			return err
		}
	} else if rep, err = db.CompactReport(context.Background()); err != nil {
		return err
	}
	if len(rep) == 0 {
		fmt.Fprintln(stdout, "Nothing to compact.")
	}
	for _, st := range rep {
		m := st.Meta
		if len(st.Parents) == 0 {
			fmt.Fprintf(stdout, "Created block %s from the head: %d - %d, %s samples, %s\n", m.ULID, m.MinTime/1000, m.MaxTime/1000, cli.Thousands(int(m.Stats.NumSamples)), cli.Bytes(st.Size))
			continue
		}
		fmt.Fprintf(stdout, "Compacted %d blocks (%s) into %s (level %d): %d - %d, %s in %s\n", len(st.Parents), cli.Bytes(st.InSize), m.ULID, m.Compaction.Level, m.MinTime/1000, m.MaxTime/1000, cli.Bytes(st.Size), cli.Duration(st.Duration))
	}
	return nil
}

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "inspect", "--data-dir DIR", stderr)
	dataDir := fs.String("data-dir", "", "the DB directory (required)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		return cli.Usagef("--data-dir is required")
	}
	if err := cli.ExistingDir(*dataDir); err != nil {
		return err
	}
	db, err := tsdb.Open(*dataDir, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		return err
	}
	defer db.Close()
	rec := db.Recovery()
	fmt.Fprintf(stdout, "%-26s %-14s %-14s %-9s %12s %9s %9s %10s %6s %5s\n", "BLOCK ULID", "MIN TIME", "MAX TIME", "DURATION", "SAMPLES", "SERIES", "CHUNKS", "SIZE", "B/SMP", "LEVEL")
	var total int64
	for _, b := range db.Blocks() {
		total += b.Size
		fmt.Fprintf(stdout, "%-26s %-14d %-14d %-9s %12s %9s %9s %10s %6.2f %5d\n", b.ULID, b.MinTime, b.MaxTime,
			span(b.MaxTime-b.MinTime), cli.Thousands(int(b.Stats.NumSamples)),
			cli.Thousands(int(b.Stats.NumSeries)), cli.Thousands(int(b.Stats.NumChunks)), cli.Bytes(b.Size),
			float64(b.Size)/float64(max(b.Stats.NumSamples, 1)), b.Compaction.Level)
		if b.Tombstones > 0 {
			fmt.Fprintf(stdout, "  %d tombstones\n", b.Tombstones)
		}
	}
	fmt.Fprintf(stdout, "Blocks: %d, %s on disk\n", len(db.Blocks()), cli.Bytes(total))
	for _, d := range db.Damage() {
		fmt.Fprintf(stdout, "Damaged: %v\n", d)
	}
	hs := db.Head().Stats()
	if hs.Series > 0 {
		fmt.Fprintf(stdout, "Head: %s series, %d - %d, %s open chunks, %s mmapped chunks (%s)\n", cli.Thousands(hs.Series), hs.MinT, hs.MaxT,
			cli.Thousands(hs.OpenChunks), cli.Thousands(hs.MappedChunks), cli.Bytes(hs.HeadChunkBytes))
	} else {
		fmt.Fprintln(stdout, "Head: empty")
	}
	fmt.Fprintf(stdout, "WAL: %s (replayed %s records, %s samples in %s)\n", cli.Bytes(db.WALSize()), cli.Thousands(rec.WALRecords), cli.Thousands(rec.SamplesLoaded), cli.Duration(rec.Duration))
	return nil
}
