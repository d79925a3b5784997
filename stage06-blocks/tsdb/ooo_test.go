package tsdb

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestOutOfOrderWindow: samples up to the window older than the head's
// newest are accepted, queried merged with the in-order ones, replayed
// from the WAL, and written into blocks; older ones are refused. Checked
// against the oracle at every step.
func TestOutOfOrderWindow(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = Hour
	db := openDB(t, dir, opts)
	o := oracle{}
	const n = 10
	// In order: even minutes of 0 … 3 h.
	ingest(t, db, o, n, 0, 2*Minute, 91)
	newest := int64(180 * Minute)
	if db.Head().MaxTime() != newest {
		t.Fatalf("head max %d", db.Head().MaxTime())
	}
	// Out of order: odd minutes, newest first, from 3 h back to 1.5 h.
	app := db.Appender(nil)
	accepted, refused := 0, 0
	for m := int64(179); m >= 91; m -= 2 {
		ts := m * Minute
		for i := range n {
			v := -float64(i*1000) - float64(m)
			_, err := app.Append(0, seriesName(i), ts, v)
			switch {
			case ts >= newest-opts.OutOfOrderWindow:
				if err != nil {
					t.Fatalf("t=%d inside the window refused: %v", ts, err)
				}
				o.add(seriesName(i), ts, v)
				accepted++
			case !errors.Is(err, ErrOutOfOrder):
				t.Fatalf("t=%d outside the window: %v, want ErrOutOfOrder", ts, err)
			default:
				refused++
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("accepted %d, refused %d: the test must exercise both", accepted, refused)
	}
	// An out-of-order sample at a timestamp the series already has in
	// order: the in-order sample wins, so the oracle keeps its value.
	app = db.Appender(nil)
	if _, err := app.Append(0, seriesName(0), 150*Minute, 12345); err != nil {
		t.Fatal(err)
	}
	app.Commit()
	check := func(stage string) {
		t.Helper()
		for _, r := range [][2]int64{{math.MinInt64, all}, {100 * Minute, 130 * Minute}, {179 * Minute, 179 * Minute}} {
			got := collect(t, db, r[0], r[1])
			want := o.expect(r[0], r[1], nil)
			t.Run(stage, func(t *testing.T) { equalResults(t, got, want) })
		}
	}
	check("head")
	if got := db.Head().Stats().OOOAccepted; got != uint64(accepted)+1 {
		t.Fatalf("OOOAccepted %d, want %d", got, accepted+1)
	}
	db.Close()
	db = openDB(t, dir, opts)
	defer db.Close()
	check("replayed")
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	var blockSamples uint64
	for _, b := range db.Blocks() {
		blockSamples += b.Stats.NumSamples
	}
	total := 0
	for _, ss := range o.expect(math.MinInt64, all, nil) {
		total += len(ss)
	}
	if blockSamples != uint64(total) || db.Head().NumSeries() != 0 {
		t.Fatalf("blocks hold %d samples, oracle %d; head series left %d", blockSamples, total, db.Head().NumSeries())
	}
	check("blocks")
}

// TestOutOfOrderRecoveryRemapsHeadChunks: with the out-of-order window on,
// a restart re-maps the head-chunks files like any other (no error
// recorded, no file deleted) and still finds every out-of-order sample,
// including those inside the range of a re-mapped chunk, which never went
// into a head-chunks file: the WAL says which samples were out of order
// (older than one logged before them for the series).
func TestOutOfOrderRecoveryRemapsHeadChunks(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = Hour
	db := openDB(t, dir, opts)
	o := oracle{}
	const n = 4
	ingest(t, db, o, n, 0, 2*Minute, 61) // even minutes 0 … 2 h: one full chunk per series, mapped
	app := db.Appender(nil)
	for m := int64(119); m >= 61; m -= 2 { // odd minutes inside the mapped chunks' range
		for i := range n {
			v := -float64(i*1000) - float64(m)
			if _, err := app.Append(0, seriesName(i), m*Minute, v); err != nil {
				t.Fatal(err)
			}
			o.add(seriesName(i), m*Minute, v)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, o, n, 122*Minute, 2*Minute, 5) // in order again after them
	mapped := db.Head().Stats().MappedChunks
	if mapped == 0 {
		t.Fatal("no mapped chunk: the test needs some")
	}
	files, err := os.ReadDir(filepath.Join(dir, HeadChunksDirname))
	if err != nil || len(files) == 0 {
		t.Fatalf("head-chunks files: %v, %v", files, err)
	}
	db.Close()
	for range 2 { // twice: the first restart must not have damaged anything
		db = openDB(t, dir, opts)
		rec := db.Recovery()
		if rec.HeadChunksErr != nil || rec.HeadChunks != mapped {
			t.Fatalf("restart: %d chunks re-mapped (want %d), error %v", rec.HeadChunks, mapped, rec.HeadChunksErr)
		}
		after, _ := os.ReadDir(filepath.Join(dir, HeadChunksDirname))
		if len(after) == 0 || after[0].Name() != files[0].Name() {
			t.Fatalf("head-chunks files %v after restart, were %v", after, files)
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
		db.Close()
	}
}
