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

// demoStep is the scrape interval of the demo's workload.
const demoStep int64 = 15_000

// demo is the state the demo's phases share.
type demo struct {
	db     *tsdb.DB
	sc     *scraper
	series int
	stdout io.Writer
	stderr io.Writer
}

// cmdDemo follows the guide's transcript: an hour of ingestion, the head
// cut into a block at the 2 h mark, a query inside that block, and a second
// block merged with the first.
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
	db, err := tsdb.Open(dir, tsdb.Options{WALSync: wal.SyncBatch, NoBackgroundCompaction: true})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "Starting TSDB with %s block range... (data: %s)\n\n", span(tsdb.DefaultBlockRange), dir)
	d := &demo{db: db, sc: newScraper(*series), series: *series, stdout: stdout, stderr: stderr}
	if err := d.ingest(); err != nil {
		return err
	}
	first, err := d.cutBlock()
	if err != nil {
		return err
	}
	// At the 1 h mark: inside the block.
	fmt.Fprintln(stdout, "[Query]")
	if err := printQuery(stdout, db, `http_requests_total{method="GET"}[5m]`, demoStart+tsdb.Hour, false); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	return d.compact(first)
}

// scrape appends the scrapes of [from, to) with a progress line.
func (d *demo) scrape(from, to int64) (int, error) {
	p := cli.NewProgress(d.stderr, "samples", int64(d.series)*((to-from+demoStep-1)/demoStep), cli.DefaultInterval)
	defer p.Done()
	return d.sc.run(d.db, from, to, demoStep, p)
}

// ingest is the first hour, timed, with the memory it took.
func (d *demo) ingest() error {
	fmt.Fprintln(d.stdout, "[Ingestion - 1 hour]")
	heap0 := heapInUse()
	start := time.Now()
	n, err := d.scrape(demoStart, demoStart+tsdb.Hour)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(d.stdout, "Ingested %s samples across %s series in %s (%s samples/s, WAL fsync per commit)\n",
		cli.Thousands(n), cli.Thousands(d.series), cli.Duration(el), cli.Rate(float64(n)/el.Seconds()))
	hs := d.db.Head().Stats()
	fmt.Fprintf(d.stdout, "Head block: %s in-memory (Go heap), %s of full chunks in mmapped head-chunk files, WAL: %s on disk\n\n",
		cli.Bytes(int64(heapInUse()-heap0)), cli.Bytes(hs.HeadChunkBytes), cli.Bytes(d.db.WALSize()))
	return nil
}

// cutBlock ingests up to the 3 h mark, where the head spans 1.5 block
// ranges, and cuts its oldest 2 h into a block.
func (d *demo) cutBlock() (tsdb.CompactStats, error) {
	fmt.Fprintln(d.stdout, "[Block Creation - at 2h mark]")
	if _, err := d.scrape(demoStart+tsdb.Hour, demoStart+3*tsdb.Hour+demoStep); err != nil {
		return tsdb.CompactStats{}, err
	}
	h := d.db.Head()
	fmt.Fprintf(d.stdout, "Head spans %s: flushing the oldest %s to disk...\n", span(h.MaxTime()-h.MinTime()), span(tsdb.DefaultBlockRange))
	rep, err := d.db.CompactReport(context.Background())
	if err != nil {
		return tsdb.CompactStats{}, err
	}
	if len(rep) == 0 {
		return tsdb.CompactStats{}, fmt.Errorf("no block was cut")
	}
	b, m := rep[0], rep[0].Meta
	fmt.Fprintf(d.stdout, "Created block: %s (in %s)\n", m.ULID, cli.Duration(b.Duration))
	fmt.Fprintf(d.stdout, "  Time range: %d - %d\n", m.MinTime/1000, m.MaxTime/1000)
	fmt.Fprintf(d.stdout, "  Samples: %s\n", cli.Thousands(int(m.Stats.NumSamples)))
	fmt.Fprintf(d.stdout, "  Size on disk: %s (%.1fx compression vs 16 bytes/sample; %.2f bytes/sample)\n",
		cli.Bytes(b.Size), float64(16*m.Stats.NumSamples)/float64(b.Size), float64(b.Size)/float64(m.Stats.NumSamples))
	fmt.Fprintf(d.stdout, "  Chunks: %s\n", cli.Thousands(int(m.Stats.NumChunks)))
	for _, bi := range d.db.Blocks() {
		if bi.ULID == m.ULID {
			fmt.Fprintf(d.stdout, "  Index size: %s\n", cli.Bytes(bi.IndexSize))
		}
	}
	fmt.Fprintf(d.stdout, "Head after truncation: %s series, from %d; WAL after checkpoint: %s\n\n",
		cli.Thousands(d.db.Head().NumSeries()), d.db.Head().MinTime()/1000, cli.Bytes(d.db.WALSize()))
	return b, nil
}

// compact cuts a second block (2 h more) and merges it with the first.
func (d *demo) compact(first tsdb.CompactStats) error {
	fmt.Fprintln(d.stdout, "[Compaction - later]")
	if _, err := d.scrape(demoStart+3*tsdb.Hour+demoStep, demoStart+5*tsdb.Hour+demoStep); err != nil {
		return err
	}
	rep, err := d.db.CompactReport(context.Background())
	if err != nil || len(rep) == 0 {
		return fmt.Errorf("second block: %v", err)
	}
	a, b := first.Meta.ULID, rep[0].Meta.ULID
	fmt.Fprintf(d.stdout, "Compacting blocks: %s..., %s...\n", a.String()[:10], b.String()[:10])
	st, err := d.db.CompactBlocks(a, b)
	if err != nil {
		return err
	}
	m := st.Meta
	fmt.Fprintf(d.stdout, "Created merged block: %s (level %d, in %s, %s/s)\n", m.ULID, m.Compaction.Level, cli.Duration(st.Duration),
		cli.Bytes(int64(float64(st.InSize)/st.Duration.Seconds())))
	fmt.Fprintf(d.stdout, "  Time range: %d - %d (%s)\n", m.MinTime/1000, m.MaxTime/1000, span(m.MaxTime-m.MinTime))
	fmt.Fprintf(d.stdout, "  Reduced from 2 blocks (%s) to 1 block (%s)\n", cli.Bytes(st.InSize), cli.Bytes(st.Size))
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
