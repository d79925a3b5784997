package tsdb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// BenchmarkFootprint: what the data directory takes on disk for 10,000
// counters scraped every 15 s with random increments (fixed seed), and
// how long the WAL takes to replay, per WAL compression. hours=2.5 is 6M
// samples, all in the head (no block yet: the "before compaction" figure);
// hours=24 cuts blocks every 2 h as a server would (57.6M samples) and
// reports the blocks, the head-chunks files left after compaction (parsed:
// files, chunks, those already in a block, bytes per chunk record) and the
// whole directory. One op is the whole run; disk figures are allocated
// bytes (du), replay is the time to Open the closed directory again, also
// as CPU time of the process (less swayed by other jobs than the clock).
func BenchmarkFootprint(b *testing.B) {
	for _, hours := range []float64{2.5, 24} {
		for _, c := range []wal.Compression{wal.CompressionNone, wal.CompressionSnappy, wal.CompressionZstd} {
			b.Run(fmt.Sprintf("hours=%g/wal=%v", hours, c), func(b *testing.B) {
				if hours > 3 && testing.Short() {
					b.Skip("57.6M samples")
				}
				for range b.N {
					benchFootprint(b, hours, c)
				}
			})
		}
	}
}

func benchFootprint(b *testing.B, hours float64, c wal.Compression) {
	const series, step = 10_000, int64(15_000)
	dir := b.TempDir()
	opts := benchOpts()
	opts.WALCompression = c
	if v := os.Getenv("TSDB_FOOTPRINT_COLD_LEVEL"); v != "" { // e.g. -1: Gorilla blocks only, to price the cold ones
		l, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("TSDB_FOOTPRINT_COLD_LEVEL=%q: %v", v, err)
		}
		opts.ColdLevel = l
	}
	db, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	lsets := make([]model.Labels, series)
	for i := range lsets {
		lsets[i] = model.MustFromStrings("__name__", "requests_total", "instance", fmt.Sprintf("host-%d:9100", i%100), "job", "node", "series", fmt.Sprint(i))
	}
	rng := rand.New(rand.NewPCG(20, 21))
	vals := make([]float64, series)
	refs := make([]uint64, series)
	scrapes := int(hours * float64(Hour) / float64(step))
	start, cpu := time.Now(), measure.CPUTime()
	for k := range scrapes {
		ts := int64(k) * step
		app := db.Appender(nil)
		for i := range series {
			vals[i] += float64(rng.IntN(100))
			if refs[i], err = app.Append(refs[i], lsets[i], ts, vals[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		if hours > 3 && k%240 == 239 { // every hour of data: cut what is due
			if err := db.Compact(); err != nil {
				b.Fatal(err)
			}
		}
	}
	ingest, ingestCPU := time.Since(start), measure.CPUTime()-cpu
	samples := float64(scrapes) * series
	var blockBytes, blockSamples float64
	blocksMax := int64(math.MinInt64)
	for _, bl := range db.Blocks() {
		blockBytes += float64(bl.Size)
		blockSamples += float64(bl.Stats.NumSamples)
		blocksMax = max(blocksMax, bl.MaxTime)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	du := func(sub string) float64 {
		n, err := measure.DiskUsage(filepath.Join(dir, sub))
		if err != nil {
			b.Fatal(err)
		}
		return float64(n)
	}
	walBytes, headBytes, all := du(WALDirname), du(HeadChunksDirname), du("")
	// What chunks_head holds, parsed: records, and those whose chunk is
	// already in a block (it ends before the newest block does).
	hf := readHeadFiles(b, dir)
	var dead float64
	for _, c := range hf.chunks {
		if c.maxt < blocksMax {
			dead++
		}
	}
	start, cpu = time.Now(), measure.CPUTime()
	db, err = Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	replay, replayCPU := time.Since(start), measure.CPUTime()-cpu
	rec := db.Recovery()
	db.Close()
	b.ReportMetric(samples/ingest.Seconds(), "ingest-samples/s")
	b.ReportMetric(walBytes/samples, "wal-B/sample")
	b.ReportMetric(headBytes/(1<<20), "chunks_head-MiB")
	b.ReportMetric(float64(hf.files), "chunks_head-files")
	b.ReportMetric(float64(len(hf.chunks)), "chunks_head-chunks")
	b.ReportMetric(dead, "chunks_head-chunks-in-blocks")
	if len(hf.chunks) > 0 {
		b.ReportMetric(float64(hf.records-int64(hf.files)*8)/float64(len(hf.chunks)), "chunks_head-B/chunk")
	}
	b.ReportMetric(all/samples, "dir-B/sample")
	b.ReportMetric(all/(1<<20), "dir-MiB")
	if blockSamples > 0 {
		b.ReportMetric(blockBytes/blockSamples, "blocks-B/sample")
	}
	b.ReportMetric(replay.Seconds(), "replay-s")
	b.ReportMetric(replayCPU.Seconds(), "replay-cpu-s")
	b.ReportMetric(float64(ingestCPU.Nanoseconds())/samples, "ingest-cpu-ns/sample")
	b.ReportMetric(float64(rec.WALRecords), "wal-records")
}
