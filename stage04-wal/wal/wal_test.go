package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Open reuses an empty last segment, otherwise starts a new one; Truncate
// deletes old segments but never the one being written.
func TestOpenTruncateSegments(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = Open(dir, Options{Sync: SyncNone}) // 00000000 is empty: reused
	if err != nil {
		t.Fatal(err)
	}
	if w.CurrentSegment() != 0 {
		t.Fatalf("empty segment not reused: current %d", w.CurrentSegment())
	}
	w.Log([]byte{1})
	w.Close()
	w = mustOpen(t, dir, Options{Sync: SyncNone, SegmentSize: 100})
	if w.CurrentSegment() != 1 {
		t.Fatalf("current %d, want a new segment 1", w.CurrentSegment())
	}
	for range 5 {
		if _, err := w.NextSegment(); err != nil {
			t.Fatal(err)
		}
	}
	if first, last, ok, err := Segments(dir); !ok || err != nil || first != 0 || last != 6 {
		t.Fatalf("Segments: %d %d %v %v", first, last, ok, err)
	}
	if err := w.Truncate(6); !errors.Is(err, ErrBadSegment) {
		t.Fatalf("Truncate of the live segment: %v", err)
	}
	if err := w.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if first, last, _, _ := Segments(dir); first != 4 || last != 6 {
		t.Fatalf("after Truncate(3): segments %d..%d", first, last)
	}
	// The reader starts at the first segment left, and a gap is corruption.
	if err := os.Remove(filepath.Join(dir, SegmentName(5))); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReader(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reader over a gap: %v", err)
	}
	if _, err := Checkpoint(dir, 6, nil, 0); !errors.Is(err, ErrBadSegment) {
		t.Fatalf("checkpoint of the last segment: %v", err)
	}
}
