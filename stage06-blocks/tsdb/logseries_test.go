package tsdb

import (
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// A batch that appends several samples of a new series, the later ones by
// ref, logs the series' record once; a batch after its commit logs none.
func TestNewSeriesLoggedOncePerBatch(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	lsets := []model.Labels{
		model.MustFromStrings(model.MetricName, "cpu", "host", "a"),
		model.MustFromStrings(model.MetricName, "cpu", "host", "b"),
	}
	refs := make([]uint64, len(lsets))
	app := db.Appender(nil)
	for ts := int64(1); ts <= 10; ts++ { // the series interleaved, as a batch of lines has them
		for i, l := range lsets {
			if refs[i] == 0 {
				refs[i], err = app.Append(0, l, ts, 1)
			} else {
				_, err = app.Append(refs[i], model.Labels{}, ts, 1)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	app = db.Appender(nil)
	for i := range lsets {
		if _, err := app.Append(refs[i], model.Labels{}, 11, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := wal.NewReader(filepath.Join(dir, WALDirname))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logged := map[uint64]int{}
	samples := 0
	var ss []wal.RefSeries
	var xs []wal.RefSample
	for r.Next() {
		switch wal.Type(r.Record()) {
		case wal.RecordSeries:
			if ss, err = wal.DecodeSeries(r.Record(), ss); err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				logged[s.Ref]++
			}
		case wal.RecordSamples, wal.RecordDenseSamples:
			if xs, err = wal.DecodeSamples(r.Record(), xs); err != nil {
				t.Fatal(err)
			}
			samples += len(xs)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		if logged[ref] != 1 {
			t.Errorf("series %d: %d series records, want 1", ref, logged[ref])
		}
	}
	if samples != 22 {
		t.Errorf("%d samples in the WAL, want 22", samples)
	}
}
