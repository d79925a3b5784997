package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The corruption table, in the style of Prometheus's
// TestWALRepair_ReadingError: each case damages a log and states, worked
// out by hand from its layout, what replay, Open, Check and Repair must do.
//
// The log is thirty 100-byte frames (fixedRecord, SegmentSize 1000): record
// k of segment s is global record 10*s+k at offset 100*k. In the
// "checkpoint" layout segments 0 and 1 are then folded into
// checkpoint.00000001 (records 0-19 at offset 100*k: the checkpoint copies
// records of unknown type verbatim) and segment 2 follows it. "clean" cases
// keep the marker Close leaves; the others remove it, as a crash would.
func TestCorruptionTable(t *testing.T) {
	seg := func(dir string, n int) string { return filepath.Join(dir, SegmentName(n)) }
	cpt := func(dir string) string { return filepath.Join(dir, CheckpointName(1)) }
	edit := func(t *testing.T, path string, f func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(off int) func([]byte) []byte { return func(b []byte) []byte { b[off] ^= 0x08; return b } }
	cut := func(n int) func([]byte) []byte { return func(b []byte) []byte { return b[:n] } }
	garbage := []byte("\x9c\x17not a record at all, just bytes\xff\x01") // its "length" is huge
	span := func(from, to int) []int {
		var s []int
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	const (
		tornTail = iota + 1
		corrupt
		missingSegment
		missingCheckpoint
		cutShort
	)

	for _, tc := range []struct {
		name       string
		checkpoint bool // the checkpoint layout
		clean      bool // the log was closed cleanly (marker kept)
		required   bool // Options.CheckpointRequired
		damage     func(t *testing.T, dir string)
		// Replay: records read, then a clean end (torn tail at tailOff,
		// tailBytes long, if torn) or an error at (errSeg, errOff).
		read      int
		torn      bool
		tailOff   int64
		tailBytes int64
		errSeg    int
		errOff    int64
		wantErr   bool
		openFails bool // Open refuses (it reads only the last segment)
		// Check: the kinds of the problems found, in log order, and the
		// bytes and records (at least) the damage cost.
		problems []int
		cutBytes int64
		lost     int
		// Repair: the records replay yields afterwards are 0…29 without
		// gone; rewritten and created are the files it rewrote and wrote.
		gone      []int
		rewritten []string
		created   []string
	}{
		{name: "intact", damage: func(*testing.T, string) {}, read: 30},
		{name: "intact, closed cleanly", clean: true, damage: func(*testing.T, string) {}, read: 30},
		{name: "bit flip mid segment", read: 14, wantErr: true, errSeg: 1, errOff: 400,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 1), flip(450)) },
			problems: []int{corrupt}, cutBytes: 100, lost: 1, gone: []int{14}, rewritten: []string{"00000001"}},
		{name: "bit flip in a length field", read: 14, wantErr: true, errSeg: 1, errOff: 400,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 1), func(b []byte) []byte { b[401] ^= 0x01; return b }) },
			problems: []int{corrupt}, cutBytes: 100, lost: 1, gone: []int{14}, rewritten: []string{"00000001"}},
		{name: "bit flip mid last segment", read: 24, wantErr: true, errSeg: 2, errOff: 400, openFails: true,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), flip(450)) },
			problems: []int{corrupt}, cutBytes: 100, lost: 1, gone: []int{24}, rewritten: []string{"00000002"}},
		{name: "bit flip in the last record", read: 29, torn: true, tailOff: 900, tailBytes: 100,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), flip(950)) },
			problems: []int{tornTail}, cutBytes: 100, gone: []int{29}},
		{name: "bit flip in the last record, closed cleanly", clean: true, read: 29, wantErr: true, errSeg: 2, errOff: 900, openFails: true,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), flip(950)) },
			problems: []int{corrupt}, cutBytes: 100, lost: 1, gone: []int{29}, rewritten: []string{"00000002"}},
		{name: "truncated tail mid-record", read: 29, torn: true, tailOff: 900, tailBytes: 50,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), cut(950)) },
			problems: []int{tornTail}, cutBytes: 50, gone: []int{29}},
		{name: "truncated tail mid-header", read: 29, torn: true, tailOff: 900, tailBytes: 3,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), cut(903)) },
			problems: []int{tornTail}, cutBytes: 3, gone: []int{29}},
		// A clean shutdown says how long the newest segment was: cut at a
		// record boundary it still reads cleanly, and only the marker
		// tells that half of it is gone.
		{name: "newest segment cut in half, closed cleanly", clean: true, read: 25, openFails: true,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), cut(500)) },
			problems: []int{cutShort}, gone: span(25, 30)},
		{name: "newest segment cut mid-record, closed cleanly", clean: true, read: 25, wantErr: true, errSeg: 2, errOff: 500, openFails: true,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 2), cut(550)) },
			problems: []int{corrupt, cutShort}, cutBytes: 50, lost: 1, gone: span(25, 30), rewritten: []string{"00000002"}},
		{name: "newest segment deleted, closed cleanly", clean: true, read: 20, openFails: true,
			damage:   func(t *testing.T, d string) { remove(t, seg(d, 2)) },
			problems: []int{cutShort}, gone: span(20, 30)},
		{name: "zeroed page mid segment", read: 12, wantErr: true, errSeg: 1, errOff: 200,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 1), func(b []byte) []byte { clear(b[256:512]); return b })
			},
			problems: []int{corrupt}, cutBytes: 400, lost: 1, gone: span(12, 16), rewritten: []string{"00000001"}},
		{name: "zeroed oldest segment", read: 0, wantErr: true, errSeg: 0, errOff: 0,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 0), func(b []byte) []byte { clear(b); return b })
			},
			problems: []int{corrupt}, cutBytes: 1000, lost: 1, gone: span(0, 10), rewritten: []string{"00000000"}},
		{name: "zeroed tail of last segment", read: 25, torn: true, tailOff: 500, tailBytes: 500,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 2), func(b []byte) []byte { clear(b[512:]); return b })
			},
			problems: []int{tornTail}, cutBytes: 500, gone: span(25, 30)},
		{name: "garbage appended", read: 30, torn: true, tailOff: 1000, tailBytes: int64(len(garbage)),
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 2), func(b []byte) []byte { return append(b, garbage...) })
			},
			problems: []int{tornTail}, cutBytes: int64(len(garbage))},
		{name: "zeroes appended (preallocated tail)", read: 30, torn: true, tailOff: 1000, tailBytes: 4096,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 2), func(b []byte) []byte { return append(b, make([]byte, 4096)...) })
			},
			problems: []int{tornTail}, cutBytes: 4096},
		{name: "garbage appended to a middle segment", read: 20, wantErr: true, errSeg: 1, errOff: 1000,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 1), func(b []byte) []byte { return append(b, garbage...) })
			},
			problems: []int{corrupt}, cutBytes: int64(len(garbage)), lost: 1, rewritten: []string{"00000001"}},
		{name: "truncated middle segment", read: 9, wantErr: true, errSeg: 0, errOff: 900,
			damage:   func(t *testing.T, d string) { edit(t, seg(d, 0), cut(950)) },
			problems: []int{corrupt}, cutBytes: 50, lost: 1, gone: []int{9}, rewritten: []string{"00000000"}},
		{name: "missing middle segment", read: -1, wantErr: true, errSeg: 1, errOff: 0,
			damage:   func(t *testing.T, d string) { remove(t, seg(d, 1)) },
			problems: []int{missingSegment}, gone: span(10, 20), created: []string{"00000001"}},
		// The checkpoint layout: damage in the checkpoint costs its own
		// records, never the segment after it.
		{name: "64 bytes flipped in the checkpoint", checkpoint: true, read: 10, wantErr: true, errSeg: 1, errOff: 1000,
			damage: func(t *testing.T, d string) {
				edit(t, cpt(d), func(b []byte) []byte {
					for i := 1020; i < 1084; i++ {
						b[i] ^= 0xff
					}
					return b
				})
			},
			problems: []int{corrupt}, cutBytes: 100, lost: 1, gone: []int{10}, rewritten: []string{"checkpoint.00000001"}},
		{name: "checkpoint cut short", checkpoint: true, read: 15, wantErr: true, errSeg: 1, errOff: 1500,
			damage:   func(t *testing.T, d string) { edit(t, cpt(d), cut(1550)) },
			problems: []int{corrupt}, cutBytes: 50, lost: 1, gone: span(15, 20), rewritten: []string{"checkpoint.00000001"}},
		{name: "checkpoint deleted", checkpoint: true, required: true, read: 10, openFails: true,
			damage:   func(t *testing.T, d string) { remove(t, cpt(d)) },
			problems: []int{missingCheckpoint}, gone: span(0, 20), created: []string{"checkpoint.00000001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{SegmentSize: 1000, Sync: SyncNone})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				if err := w.Log(fixedRecord(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := segmentFiles(t, dir); got["00000000"] != 1000 || got["00000001"] != 1000 || got["00000002"] != 1000 || got[ClosedMarkerName] == 0 {
				t.Fatalf("layout before damage: %v", got)
			}
			if tc.checkpoint {
				st, err := Checkpoint(dir, 1, nil, 0)
				if err != nil || st.Records != 20 || st.Bytes != 2000 {
					t.Fatalf("checkpoint: %+v %v", st, err)
				}
			}
			if !tc.clean {
				remove(t, filepath.Join(dir, ClosedMarkerName))
			}
			opts := Options{Sync: SyncNone, CheckpointRequired: tc.required}
			tc.damage(t, dir)

			recs, stats, err := readAll(t, dir)
			if tc.read >= 0 && len(recs) != tc.read {
				t.Errorf("replay read %d records, want %d", len(recs), tc.read)
			}
			first := 0
			if tc.checkpoint && tc.required && len(recs) > 0 && !bytes.Equal(recs[0], fixedRecord(0)) {
				first = 20 // the checkpoint is gone: replay starts at segment 2
			}
			for i, r := range recs {
				if !bytes.Equal(r, fixedRecord(first+i)) {
					t.Fatalf("record %d differs", i)
				}
			}
			var ce *CorruptionError
			switch {
			case tc.wantErr:
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Segment != tc.errSeg || ce.Offset != tc.errOff {
					t.Fatalf("replay error %v, want corruption at %d offset %d", err, tc.errSeg, tc.errOff)
				}
			case err != nil:
				t.Fatalf("replay: %v", err)
			default:
				last := stats[len(stats)-1]
				if last.TornTail != tc.torn || (tc.torn && (last.TailOffset != tc.tailOff || last.TailBytes != tc.tailBytes || last.Corrupt != 1)) {
					t.Fatalf("last segment stats %+v, want torn=%v at %d (%d bytes)", last, tc.torn, tc.tailOff, tc.tailBytes)
				}
			}

			// Open cuts a torn tail itself and refuses what it must not
			// cut; it changes nothing when it refuses.
			before := segmentFiles(t, dir)
			if w, err := Open(dir, opts); tc.openFails {
				if !errors.Is(err, ErrCorrupt) {
					if err == nil {
						w.Close()
					}
					t.Fatalf("Open: %v, want ErrCorrupt", err)
				}
				if after := segmentFiles(t, dir); !mapsEqual(before, after) {
					t.Fatalf("a refused Open changed the directory: %v -> %v", before, after)
				}
			} else {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				tr, ok := w.TruncatedTail()
				w.Close()
				if ok != tc.torn || (tc.torn && (tr.Segment != 2 || tr.Offset != tc.tailOff || tr.Bytes != tc.tailBytes)) {
					t.Fatalf("TruncatedTail %+v %v, want torn=%v", tr, ok, tc.torn)
				}
				remove(t, filepath.Join(dir, ClosedMarkerName))
				if tc.torn {
					tc.problems, tc.cutBytes = nil, 0 // Open did the job
				}
			}

			check, err := Check(dir, opts)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			var kinds []int
			for _, p := range check.Problems {
				kinds = append(kinds, int(p.Kind)+1)
			}
			if !slices.Equal(kinds, tc.problems) || check.CutBytes != tc.cutBytes || check.LostRecords != tc.lost || check.Repaired {
				t.Fatalf("Check: kinds %v cut %d lost %d, want %v %d %d\n%s", kinds, check.CutBytes, check.LostRecords, tc.problems, tc.cutBytes, tc.lost, check)
			}
			if after := segmentFiles(t, dir); !tc.torn && tc.openFails && !mapsEqual(before, after) {
				t.Fatalf("Check changed the directory")
			}

			rep, err := Repair(dir, opts)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			want := slices.DeleteFunc(span(0, 30), func(i int) bool { return slices.Contains(tc.gone, i) })
			if rep.Records != len(want) || !slices.Equal(rep.Rewritten, tc.rewritten) || !slices.Equal(rep.Created, tc.created) || !rep.Repaired {
				t.Fatalf("Repair: %d records, rewrote %v, created %v; want %d, %v, %v\n%s", rep.Records, rep.Rewritten, rep.Created, len(want), tc.rewritten, tc.created, rep)
			}
			for _, name := range tc.rewritten {
				if _, err := os.Stat(filepath.Join(dir, name+DamagedSuffix)); err != nil {
					t.Errorf("the original of %s is not kept: %v", name, err)
				}
			}
			checkRecords := func(when string, extra ...int) {
				t.Helper()
				recs, stats, err := readAll(t, dir)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if last := stats[len(stats)-1]; last.TornTail || last.Corrupt != 0 {
					t.Fatalf("%s: the tail is still damaged: %+v", when, last)
				}
				ids := append(slices.Clone(want), extra...)
				if len(recs) != len(ids) {
					t.Fatalf("%s: %d records, want %d", when, len(recs), len(ids))
				}
				for i, id := range ids {
					if !bytes.Equal(recs[i], fixedRecord(id)) {
						t.Fatalf("%s: record %d is not record %d", when, i, id)
					}
				}
			}
			checkRecords("after Repair")
			if again, err := Check(dir, opts); err != nil || len(again.Problems) != 0 {
				t.Fatalf("Check after Repair: %v\n%s", err, again)
			}
			// The repaired log accepts appends, which replay after the kept records.
			w, err = Open(dir, opts)
			if err != nil {
				t.Fatalf("Open after Repair: %v", err)
			}
			if err := w.Log(fixedRecord(99)); err != nil {
				t.Fatal(err)
			}
			w.Close()
			checkRecords("after an append", 99)
		})
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
