package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The corruption table. The log is three segments 00000000..00000002 of
// ten 100-byte frames each (fixedRecord, SegmentSize 1000), so record k of
// segment s is global record 10*s+k at offset 100*k. Each case damages the
// files and states, worked out by hand from that layout, what replay must
// report and what Repair must keep.
func TestCorruptionTable(t *testing.T) {
	seg := func(dir string, n int) string { return filepath.Join(dir, SegmentName(n)) }
	edit := func(t *testing.T, path string, f func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	garbage := []byte("\x9c\x17not a record at all, just bytes\xff\x01") // its "length" is huge

	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		// Replay: records read, then either a clean end with a torn tail at
		// (tailSeg, tailOff) or an error at (errSeg, errOff).
		read             int
		torn             bool
		tailOff          int64
		tailBytes        int64
		wantErr          bool
		errSeg           int
		errOff           int64
		keptAfterRepair  int
		removedByRepair  []int
		openFailsOnCheck bool // Open itself refuses (damage in the last segment, before its tail)
	}{
		{name: "intact", damage: func(*testing.T, string) {}, read: 30, keptAfterRepair: 30},
		{name: "bit flip mid segment", read: 14, wantErr: true, errSeg: 1, errOff: 400, keptAfterRepair: 14, removedByRepair: []int{2},
			damage: func(t *testing.T, d string) { edit(t, seg(d, 1), func(b []byte) []byte { b[450] ^= 0x08; return b }) }},
		{name: "bit flip in a length field", read: 14, wantErr: true, errSeg: 1, errOff: 400, keptAfterRepair: 14, removedByRepair: []int{2},
			damage: func(t *testing.T, d string) { edit(t, seg(d, 1), func(b []byte) []byte { b[401] ^= 0x01; return b }) }},
		{name: "bit flip mid last segment", read: 24, wantErr: true, errSeg: 2, errOff: 400, keptAfterRepair: 24, openFailsOnCheck: true,
			damage: func(t *testing.T, d string) { edit(t, seg(d, 2), func(b []byte) []byte { b[450] ^= 0x08; return b }) }},
		{name: "bit flip in the last record", read: 29, torn: true, tailOff: 900, tailBytes: 100, keptAfterRepair: 29,
			damage: func(t *testing.T, d string) { edit(t, seg(d, 2), func(b []byte) []byte { b[950] ^= 0x08; return b }) }},
		{name: "truncated tail mid-record", read: 29, torn: true, tailOff: 900, tailBytes: 50, keptAfterRepair: 29,
			damage: func(t *testing.T, d string) { edit(t, seg(d, 2), func(b []byte) []byte { return b[:950] }) }},
		{name: "truncated tail mid-header", read: 29, torn: true, tailOff: 900, tailBytes: 3, keptAfterRepair: 29,
			damage: func(t *testing.T, d string) { edit(t, seg(d, 2), func(b []byte) []byte { return b[:903] }) }},
		{name: "zeroed page mid segment", read: 12, wantErr: true, errSeg: 1, errOff: 200, keptAfterRepair: 12, removedByRepair: []int{2},
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 1), func(b []byte) []byte { clear(b[256:512]); return b })
			}},
		{name: "zeroed tail of last segment", read: 25, torn: true, tailOff: 500, tailBytes: 500, keptAfterRepair: 25,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 2), func(b []byte) []byte { clear(b[512:]); return b })
			}},
		{name: "garbage appended", read: 30, torn: true, tailOff: 1000, tailBytes: int64(len(garbage)), keptAfterRepair: 30,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 2), func(b []byte) []byte { return append(b, garbage...) })
			}},
		{name: "zeroes appended (preallocated tail)", read: 30, torn: true, tailOff: 1000, tailBytes: 4096, keptAfterRepair: 30,
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 2), func(b []byte) []byte { return append(b, make([]byte, 4096)...) })
			}},
		{name: "garbage appended to a middle segment", read: 20, wantErr: true, errSeg: 1, errOff: 1000, keptAfterRepair: 20, removedByRepair: []int{2},
			damage: func(t *testing.T, d string) {
				edit(t, seg(d, 1), func(b []byte) []byte { return append(b, garbage...) })
			}},
		{name: "truncated middle segment", read: 9, wantErr: true, errSeg: 0, errOff: 900, keptAfterRepair: 9, removedByRepair: []int{1, 2},
			damage: func(t *testing.T, d string) { edit(t, seg(d, 0), func(b []byte) []byte { return b[:950] }) }},
		{name: "missing middle segment", read: -1, wantErr: true, errSeg: 1, errOff: 0, keptAfterRepair: 10, removedByRepair: []int{2},
			damage: func(t *testing.T, d string) {
				if err := os.Remove(seg(d, 1)); err != nil {
					t.Fatal(err)
				}
			}},
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
			if got := segmentFiles(t, dir); len(got) != 3 || got["00000000"] != 1000 || got["00000002"] != 1000 {
				t.Fatalf("layout before damage: %v", got)
			}
			tc.damage(t, dir)

			recs, stats, err := readAll(t, dir)
			if tc.read >= 0 && len(recs) != tc.read {
				t.Errorf("replay read %d records, want %d", len(recs), tc.read)
			}
			for i, r := range recs {
				if !bytes.Equal(r, fixedRecord(i)) {
					t.Fatalf("record %d differs", i)
				}
			}
			var ce *CorruptionError
			switch {
			case tc.wantErr:
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Segment != tc.errSeg || ce.Offset != tc.errOff {
					t.Fatalf("replay error %v, want corruption at segment %d offset %d", err, tc.errSeg, tc.errOff)
				}
			case err != nil:
				t.Fatalf("replay: %v", err)
			default:
				last := stats[len(stats)-1]
				if last.TornTail != tc.torn || (tc.torn && (last.TailOffset != tc.tailOff || last.TailBytes != tc.tailBytes || last.Corrupt != 1)) {
					t.Fatalf("last segment stats %+v, want torn=%v at %d (%d bytes)", last, tc.torn, tc.tailOff, tc.tailBytes)
				}
				for _, s := range stats[:len(stats)-1] {
					if s.Records != 10 || s.Corrupt != 0 {
						t.Errorf("segment stats %+v, want 10 valid, 0 corrupt", s)
					}
				}
			}

			// Open: cuts a torn tail itself, refuses damage before the tail
			// of the last segment, and does not look further back.
			if tc.torn {
				w, err := Open(dir, Options{Sync: SyncNone})
				if err != nil {
					t.Fatalf("Open with a torn tail: %v", err)
				}
				tr, ok := w.TruncatedTail()
				w.Close()
				if !ok || tr.Segment != 2 || tr.Offset != tc.tailOff || tr.Bytes != tc.tailBytes {
					t.Fatalf("TruncatedTail %+v %v", tr, ok)
				}
				if fi, _ := os.Stat(seg(dir, 2)); fi.Size() != tc.tailOff {
					t.Fatalf("segment 2 is %d bytes after Open, want %d", fi.Size(), tc.tailOff)
				}
				os.Remove(seg(dir, 3)) // the fresh segment Open started
			}
			if tc.openFailsOnCheck {
				if _, err := Open(dir, Options{Sync: SyncNone}); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open over mid-segment damage: %v, want ErrCorrupt", err)
				}
			}

			rep, err := Repair(dir)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if rep.KeptRecords != tc.keptAfterRepair {
				t.Errorf("Repair kept %d records, want %d", rep.KeptRecords, tc.keptAfterRepair)
			}
			if len(rep.RemovedSegments) != len(tc.removedByRepair) || (len(tc.removedByRepair) > 0 && rep.RemovedSegments[0] != tc.removedByRepair[0]) {
				t.Errorf("Repair removed segments %v, want %v", rep.RemovedSegments, tc.removedByRepair)
			}
			recs, stats, err = readAll(t, dir)
			if err != nil || len(recs) != tc.keptAfterRepair {
				t.Fatalf("after Repair: %d records, %v; want %d and no error", len(recs), err, tc.keptAfterRepair)
			}
			if last := stats[len(stats)-1]; last.TornTail || last.Corrupt != 0 {
				t.Fatalf("after Repair the tail is still damaged: %+v", last)
			}
			for i, r := range recs {
				if !bytes.Equal(r, fixedRecord(i)) {
					t.Fatalf("after Repair record %d differs", i)
				}
			}
			// The repaired log accepts appends, which replay after the kept records.
			w, err = Open(dir, Options{Sync: SyncNone})
			if err != nil {
				t.Fatalf("Open after Repair: %v", err)
			}
			if err := w.Log(fixedRecord(99)); err != nil {
				t.Fatal(err)
			}
			w.Close()
			recs, _, err = readAll(t, dir)
			if err != nil || len(recs) != tc.keptAfterRepair+1 || !bytes.Equal(recs[len(recs)-1], fixedRecord(99)) {
				t.Fatalf("append after Repair: %d records, %v", len(recs), err)
			}
		})
	}
}
