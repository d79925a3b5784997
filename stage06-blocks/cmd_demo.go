package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// demoStart is the guide's first timestamp, 2023-12-19T16:00:00Z, on a
// block boundary.
const demoStart int64 = 1703001600 * 1000

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--series N] [--data-dir DIR]", stderr)
	series := fs.Int("series", 10_000, "number of series")
	dataDir := fs.String("data-dir", "", "keep the data here (default: a temp dir, removed)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *series < 4 || *series > 1_000_000 {
		return cli.Usagef("--series %d out of range [4, 1000000]", *series)
	}
	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "stage06-blocks-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	opts := tsdb.Options{WALSync: wal.SyncBatch, NoBackgroundCompaction: true}
	db, err := tsdb.Open(dir, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	step := int64(15_000)
	fmt.Fprintf(stdout, "Starting TSDB with %s block range... (data: %s)\n\n", span(tsdb.DefaultBlockRange), dir)

	// [Ingestion - 1 hour]
	fmt.Fprintln(stdout, "[Ingestion - 1 hour]")
	sc := newScraper(*series)
	heap0 := heapInUse()
	perHour := int64(*series) * (tsdb.Hour / step)
	p := cli.NewProgress(stderr, "samples", perHour, cli.DefaultInterval)
	start := time.Now()
	n, err := sc.run(db, demoStart, demoStart+tsdb.Hour, step, p)
	p.Done()
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "Ingested %s samples across %s series in %s (%s samples/s, WAL fsync per commit)\n",
		cli.Thousands(n), cli.Thousands(*series), cli.Duration(el), cli.Rate(float64(n)/el.Seconds()))
	hs := db.Head().Stats()
	fmt.Fprintf(stdout, "Head block: %s in-memory (Go heap), %s of full chunks in mmapped head-chunk files, WAL: %s on disk\n\n",
		cli.Bytes(int64(heapInUse()-heap0)), cli.Bytes(hs.HeadChunkBytes), cli.Bytes(db.WALSize()))

	// [Block Creation]: the head is cut once it spans 1.5 block ranges.
	fmt.Fprintln(stdout, "[Block Creation - at 2h mark]")
	p = cli.NewProgress(stderr, "samples", 2*perHour, cli.DefaultInterval)
	if _, err := sc.run(db, demoStart+tsdb.Hour, demoStart+3*tsdb.Hour+step, step, p); err != nil {
		return err
	}
	p.Done()
	fmt.Fprintf(stdout, "Head spans %s: flushing the oldest %s to disk...\n", span(db.Head().MaxTime()-db.Head().MinTime()), span(tsdb.DefaultBlockRange))
	rep, err := db.CompactReport(context.Background())
	if err != nil {
		return err
	}
	if len(rep) == 0 {
		return fmt.Errorf("no block was cut")
	}
	b1 := rep[0]
	m := b1.Meta
	fmt.Fprintf(stdout, "Created block: %s (in %s)\n", m.ULID, cli.Duration(b1.Duration))
	fmt.Fprintf(stdout, "  Time range: %d - %d\n", m.MinTime/1000, m.MaxTime/1000)
	fmt.Fprintf(stdout, "  Samples: %s\n", cli.Thousands(int(m.Stats.NumSamples)))
	fmt.Fprintf(stdout, "  Size on disk: %s (%.1fx compression vs 16 bytes/sample; %.2f bytes/sample)\n",
		cli.Bytes(b1.Size), float64(16*m.Stats.NumSamples)/float64(b1.Size), float64(b1.Size)/float64(m.Stats.NumSamples))
	fmt.Fprintf(stdout, "  Chunks: %s\n", cli.Thousands(int(m.Stats.NumChunks)))
	for _, bi := range db.Blocks() {
		if bi.ULID == m.ULID {
			fmt.Fprintf(stdout, "  Index size: %s\n", cli.Bytes(bi.IndexSize))
		}
	}
	fmt.Fprintf(stdout, "Head after truncation: %s series, from %d; WAL after checkpoint: %s\n\n",
		cli.Thousands(db.Head().NumSeries()), db.Head().MinTime()/1000, cli.Bytes(db.WALSize()))

	// [Query] at the 1 h mark: inside the block.
	fmt.Fprintln(stdout, "[Query]")
	if err := printQuery(stdout, db, `http_requests_total{method="GET"}[5m]`, demoStart+tsdb.Hour, false); err != nil {
		return err
	}
	fmt.Fprintln(stdout)

	// [Compaction]: a second block, then both merged.
	fmt.Fprintln(stdout, "[Compaction - later]")
	p = cli.NewProgress(stderr, "samples", 2*perHour, cli.DefaultInterval)
	if _, err := sc.run(db, demoStart+3*tsdb.Hour+step, demoStart+5*tsdb.Hour+step, step, p); err != nil {
		return err
	}
	p.Done()
	rep, err = db.CompactReport(context.Background())
	if err != nil || len(rep) == 0 {
		return fmt.Errorf("second block: %v", err)
	}
	b2 := rep[0]
	fmt.Fprintf(stdout, "Compacting blocks: %s..., %s...\n", m.ULID.String()[:10], b2.Meta.ULID.String()[:10])
	st, err := db.CompactBlocks(m.ULID, b2.Meta.ULID)
	if err != nil {
		return err
	}
	mm := st.Meta
	fmt.Fprintf(stdout, "Created merged block: %s (level %d, in %s, %s/s)\n", mm.ULID, mm.Compaction.Level, cli.Duration(st.Duration),
		cli.Bytes(int64(float64(st.InSize)/st.Duration.Seconds())))
	fmt.Fprintf(stdout, "  Time range: %d - %d (%s)\n", mm.MinTime/1000, mm.MaxTime/1000, span(mm.MaxTime-mm.MinTime))
	fmt.Fprintf(stdout, "  Reduced from 2 blocks (%s) to 1 block (%s)\n", cli.Bytes(st.InSize), cli.Bytes(st.Size))
	return nil
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// span formats a time span in ms as the guide does: 2h, 4h, 90m.
func span(ms int64) string {
	switch {
	case ms%tsdb.Hour == 0:
		return fmt.Sprintf("%dh", ms/tsdb.Hour)
	case ms%tsdb.Minute == 0:
		return fmt.Sprintf("%dm", ms/tsdb.Minute)
	}
	return cli.Duration(time.Duration(ms) * time.Millisecond)
}
