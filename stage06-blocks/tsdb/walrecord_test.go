package tsdb

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
)

// A WAL written before the dense samples record existed (type-2 samples
// records, as the head logged them then; snappy and uncompressed) opens
// with every sample, and the dense records the head logs from then on
// replay after them.
func TestReplaysOldSamplesRecords(t *testing.T) {
	const n = 5
	dir := t.TempDir()
	o := oracle{}
	series := make([]wal.RefSeries, n)
	for i := range series {
		series[i] = wal.RefSeries{Ref: uint64(i + 1), Labels: seriesName(i)}
	}
	for run, c := range []wal.Compression{wal.CompressionSnappy, wal.CompressionNone} {
		w, err := wal.Open(filepath.Join(dir, WALDirname), wal.Options{Sync: wal.SyncNone, Compression: c})
		if err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			if err := w.Log(wal.AppendSeries(nil, series)); err != nil {
				t.Fatal(err)
			}
		}
		for k := run * 50; k < (run+1)*50; k++ {
			ss := make([]wal.RefSample, n)
			for i := range ss {
				v := float64(i*1000+k) / 4 // integers and quarters
				if i == 4 {
					v = math.Sqrt(float64(k)) // no decimal
				}
				ss[i] = wal.RefSample{Ref: uint64(i + 1), T: int64(k) * 15_000, V: v}
				o.add(seriesName(i), ss[i].T, v)
			}
			if err := w.Log(wal.AppendSamples(nil, ss)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	all := func(db *DB) {
		equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	}
	db := openDB(t, dir, testOpts())
	all(db)
	ingest(t, db, o, n, 100*15_000, 15_000, 20)
	all(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	types := map[wal.RecordType]int{}
	r, err := wal.NewReader(filepath.Join(dir, WALDirname))
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		types[wal.Type(r.Record())]++
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if types[wal.RecordSamples] != 100 || types[wal.RecordDenseSamples] != 20 {
		t.Fatalf("the log holds %v, want 100 samples and 20 dense samples records", types)
	}
	db = openDB(t, dir, testOpts())
	defer db.Close()
	all(db)
}
