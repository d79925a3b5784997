package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fixedRecord is record i of the corruption tests: type 0x42 and a payload
// that names i, padded so that every frame is exactly 100 bytes. Offsets in
// those tests are then plain arithmetic (record k of a segment at 100*k),
// independent of the code under test.
func fixedRecord(i int) []byte {
	rec := make([]byte, 100-frameHeaderSize)
	rec[0] = 0x42
	copy(rec[1:], fmt.Sprintf("record %04d", i))
	for j := 12; j < len(rec); j++ {
		rec[j] = byte(i + j)
	}
	return rec
}

// readAll replays dir and returns copies of its records, the stats and the error.
func readAll(t testing.TB, dir string) ([][]byte, []SegmentStats, error) {
	t.Helper()
	r, err := NewReader(dir)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var recs [][]byte
	for r.Next() {
		recs = append(recs, bytes.Clone(r.Record()))
	}
	return recs, r.Stats(), r.Err()
}

// mustOpen opens a WAL and closes it at the end of the test.
func mustOpen(t testing.TB, dir string, o Options) *WAL {
	t.Helper()
	w, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// segmentFiles lists the segment files of dir with their sizes.
func segmentFiles(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// dirSize is the total size of the regular files in dir.
func dirSize(t testing.TB, dir string) int64 {
	var n int64
	for _, s := range segmentFiles(t, dir) {
		n += s
	}
	return n
}
