package wal

import (
	"os"
	"reflect"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// What a checkpoint keeps at the edges of its filter, stated by hand: a
// sample at mint is kept and one at mint-1 dropped; a tombstone is kept
// while any part of it reaches [mint, …) (it still deletes samples the
// head holds), dropped once it ends before mint, and dropped with its
// series.
func TestCheckpointFilterEdges(t *testing.T) {
	const mint = 10_000
	dir := t.TempDir()
	w := mustOpen(t, dir, Options{Sync: SyncNone})
	ls := func(n string) model.Labels { return model.MustFromStrings(model.MetricName, n) }
	stones := []Tombstone{
		{Ref: 1, Mint: mint - 100, Maxt: mint - 1},  // ends before mint: dropped
		{Ref: 1, Mint: mint - 100, Maxt: mint},      // reaches mint: kept
		{Ref: 2, Mint: mint - 100, Maxt: mint + 50}, // straddles mint: kept
		{Ref: 2, Mint: mint + 10, Maxt: mint + 20},  // after mint: kept
		{Ref: 3, Mint: mint + 10, Maxt: mint + 20},  // series 3 is not kept: dropped
	}
	for _, rec := range [][]byte{
		AppendSeries(nil, []RefSeries{{Ref: 1, Labels: ls("a")}, {Ref: 2, Labels: ls("b")}, {Ref: 3, Labels: ls("c")}}),
		AppendSamples(nil, []RefSample{{Ref: 1, T: mint - 1, V: 1}, {Ref: 1, T: mint, V: 2}, {Ref: 3, T: mint + 5, V: 3}}),
		AppendTombstones(nil, stones),
	} {
		if err := w.Log(rec); err != nil {
			t.Fatal(err)
		}
	}
	upto, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	st, err := Checkpoint(dir, upto, func(ref uint64) bool { return ref != 3 }, mint)
	if err != nil {
		t.Fatal(err)
	}
	if st.TombstonesKept != 3 || st.TombstonesDropped != 2 || st.SamplesKept != 1 || st.SamplesDropped != 2 || st.SeriesKept != 2 || st.SeriesDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	got := replayState(t, dir)
	want := state{
		Series:  map[uint64]string{1: ls("a").String(), 2: ls("b").String()},
		Samples: []RefSample{{Ref: 1, T: mint, V: 2}},
		Stones:  []Tombstone{stones[1], stones[2], stones[3]},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("checkpoint holds\n%+v\nwant\n%+v", got, want)
	}
}

// TestCheckpointYieldsBetweenRecords: a checkpoint calls its yield before
// each record it copies (CheckpointYield; Checkpoint's is runtime.Gosched),
// so the appenders run between two records rather than after the whole
// copy, and a paced caller can rest there. Counted, not timed.
func TestCheckpointYieldsBetweenRecords(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, dir, Options{Sync: SyncNone})
	const records = 50
	for i := range records {
		rec := AppendSamples(nil, []RefSample{{Ref: 1, T: int64(i), V: float64(i)}})
		if err := w.Log(rec); err != nil {
			t.Fatal(err)
		}
	}
	upto, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := w.CheckpointYield(upto, nil, 0, func() { n++ }); err != nil {
		t.Fatal(err)
	}
	if n < records {
		t.Fatalf("a checkpoint of %d records yielded %d times, want at least once per record", records, n)
	}
}

// TestCheckpointSyncsInSteps: a checkpoint fsyncs its file every
// checkpointSyncEvery bytes, not once at the end, so a WAL fsync sharing
// the file system's journal never waits for the writeback of the whole
// checkpoint; what it holds is unchanged.
func TestCheckpointSyncsInSteps(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, dir, Options{Sync: SyncNone, Compression: CompressionNone})
	want := state{Series: map[uint64]string{}}
	for i := range 200 {
		s := []RefSample{{Ref: 1, T: int64(i), V: float64(i)}, {Ref: 2, T: int64(i), V: -float64(i)}}
		if err := w.Log(AppendSamples(nil, s)); err != nil {
			t.Fatal(err)
		}
		want.Samples = append(want.Samples, s...)
	}
	upto, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	var syncs int
	oldEvery, oldSync := checkpointSyncEvery, checkpointSync
	checkpointSyncEvery = 256
	checkpointSync = func(f *os.File) error { syncs++; return f.Sync() }
	defer func() { checkpointSyncEvery, checkpointSync = oldEvery, oldSync }()
	st, err := w.Checkpoint(upto, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if min := int(st.Bytes / 256); syncs < min {
		t.Fatalf("a checkpoint of %d bytes fsynced %d times, want at least %d (every 256 bytes)", st.Bytes, syncs, min)
	}
	if got := replayState(t, dir); !reflect.DeepEqual(got.Samples, want.Samples) {
		t.Fatalf("the checkpoint holds %d samples, want the %d logged", len(got.Samples), len(want.Samples))
	}
}
