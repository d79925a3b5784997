package ingest

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// BenchmarkBlocksSink is the flusher's side alone: full batches (10,000
// points: 1,000 rows of ten fields, TSBS's shape) written into stage06,
// every series known (its ref cached), timestamps advancing batch by
// batch, the WAL written but not fsynced (the disk is not what is
// measured). ns/value is the CPU a value costs from the batch to the
// head: cache lookups, Append, the WAL record, the head's chunks.
func BenchmarkBlocksSink(b *testing.B) {
	sink := benchBlocksSink(b)
	const rows, fields = 1000, 10
	var keys [rows][]byte
	for r := range keys {
		keys[r] = AppendPair(AppendPair(AppendPair(nil, "__name__", "cpu"), "hostname", fmt.Sprintf("host_%d", r)), "region", "eu-west-1")
	}
	var suffixes [fields][]byte
	for f := range suffixes {
		suffixes[f] = fmt.Appendf(nil, "_usage_%d", f)
	}
	batch := &Batch{}
	fill := func(t int64) {
		batch.buf, batch.rows, batch.points = batch.buf[:0], batch.rows[:0], batch.points[:0]
		for r := range keys {
			batch.addRow(Pairs, keys[r])
			for f := range suffixes {
				batch.addPoint(suffixes[f], t, float64(r*f%100))
			}
		}
	}
	t := int64(1_700_000_000_000)
	fill(t)
	if err := sink.Write(batch); err != nil || len(batch.refused) > 0 {
		b.Fatal(err, batch.refused)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		t += 10_000
		fill(t)
		b.StartTimer()
		if err := sink.Write(batch); err != nil || len(batch.refused) > 0 {
			b.Fatal(err, batch.refused)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows*fields), "ns/value")
}

// BenchmarkBlocksSinkNewSeries is the cold start's side of the sink:
// batches of 1,000 rows of ten fields whose series were never seen, so
// each value creates its series (labels built, series created and indexed
// in the head, its WAL series record). ns/series is the CPU one costs.
func BenchmarkBlocksSinkNewSeries(b *testing.B) {
	sink := benchBlocksSink(b)
	const rows, fields = 1000, 10
	var suffixes [fields][]byte
	for f := range suffixes {
		suffixes[f] = fmt.Appendf(nil, "_usage_%d", f)
	}
	batch := &Batch{}
	host := 0
	fill := func(t int64) {
		batch.buf, batch.rows, batch.points = batch.buf[:0], batch.rows[:0], batch.points[:0]
		for range rows {
			host++
			batch.addRow(Pairs, AppendPair(AppendPair(AppendPair(nil, "__name__", "cpu"), "hostname", fmt.Sprintf("host_%d", host)), "region", "eu-west-1"))
			for f := range suffixes {
				batch.addPoint(suffixes[f], t, float64(host*f%100))
			}
		}
	}
	t := int64(1_700_000_000_000)
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		fill(t)
		b.StartTimer()
		cpu0 := cpuTime()
		if err := sink.Write(batch); err != nil || len(batch.refused) > 0 {
			b.Fatal(err, batch.refused)
		}
		cpu += cpuTime() - cpu0
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows*fields), "ns/series")
	// The process's CPU time (every thread: the garbage collector's
	// share included) per series, which other jobs on a shared machine
	// inflate less than the wall clock.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*rows*fields), "cpu-ns/series")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchBlocksSink is a sink over a fresh stage06 without background work,
// its WAL written but not fsynced: the disk is not what is measured.
func benchBlocksSink(b *testing.B) *BlocksSink {
	db, err := tsdb.Open(b.TempDir(), tsdb.Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return NewBlocksSink(db)
}
