package wal

import (
	"bytes"
	"errors"
	"testing"
)

// The frame of a record, byte by byte. CRC-32C("123456789") = 0xE3069283
// is the published check value of the Castagnoli polynomial (RFC 3720,
// appendix B.4), so this test does not trust hash/crc32 either.
func TestFrameBytes(t *testing.T) {
	rec := []byte("123456789") // type byte '1' (0x31), payload "23456789"
	want := []byte{
		0x09, 0x00, 0x00, 0x00, // length 9, LE
		0x83, 0x92, 0x06, 0xE3, // CRC-32C 0xE3069283, LE
		'1', '2', '3', '4', '5', '6', '7', '8', '9',
	}
	got := appendFrame(nil, rec)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame % x\nwant  % x", got, want)
	}
	r, size, st := parseFrame(got)
	if st != frameOK || size != len(want) || !bytes.Equal(r, rec) {
		t.Fatalf("parseFrame: %v %d %q", st, size, r)
	}
}

func TestParseFrameDamage(t *testing.T) {
	good := appendFrame(nil, []byte("123456789"))
	for _, tc := range []struct {
		name string
		b    []byte
		want frameStatus
	}{
		{"empty", nil, frameShort},
		{"half header", good[:5], frameShort},
		{"cut payload", good[:12], frameShort},
		{"zeroes", make([]byte, 64), frameBadLength},
		{"huge length", []byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1}, frameBadLength},
		{"type 0", appendFrame(nil, []byte{0, 1, 2}), frameBadType},
		{"flipped payload bit", flip(good, 12, 0x10), frameBadCRC},
		{"flipped crc bit", flip(good, 5, 0x01), frameBadCRC},
		{"length one less", flip(good, 0, 0x01), frameBadCRC}, // 9 -> 8
	} {
		if _, _, st := parseFrame(tc.b); st != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, st, tc.want)
		}
	}
}

func flip(b []byte, i int, mask byte) []byte {
	c := bytes.Clone(b)
	c[i] ^= mask
	return c
}

func TestLogRejectsInvalidRecords(t *testing.T) {
	w := mustOpen(t, t.TempDir(), Options{Sync: SyncNone})
	for _, rec := range [][]byte{nil, {}, {0, 1, 2}} {
		if err := w.Log([]byte{1}, rec); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("Log(%v): %v, want ErrInvalidRecord", rec, err)
		}
	}
	if s := w.Stats(); s.Records != 0 || s.Bytes != 0 {
		t.Errorf("a rejected call wrote something: %+v", s)
	}
}

// ReadFrames applies the log's rule to a whole file of frames: a torn end
// is reported by its offset for the caller to cut, damage with an intact
// record after it is ErrCorrupt and never a place to cut.
func TestReadFrames(t *testing.T) {
	var file []byte
	var ends []int // where frame i ends
	for i := range 5 {
		file = AppendFrame(file, fixedRecord(i))
		ends = append(ends, len(file))
	}
	for _, tc := range []struct {
		name    string
		b       []byte
		records int
		end     int
		corrupt bool
	}{
		{"whole", file, 5, ends[4], false},
		{"cut mid-record", file[:ends[3]+50], 4, ends[3], false},
		{"cut mid-header", file[:ends[3]+3], 4, ends[3], false},
		{"garbage appended", append(bytes.Clone(file), 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7), 5, ends[4], false},
		{"bit flip in the last record", flipAt(file, ends[3]+20), 4, ends[3], false},
		{"bit flip in the middle", flipAt(file, ends[1]+20), 2, ends[1], true},
		{"zeroed middle record", zeroAt(file, ends[1], ends[2]), 2, ends[1], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			end, err := ReadFrames(tc.b, 0, func(rec []byte) error {
				if !bytes.Equal(rec, fixedRecord(n)) {
					t.Fatalf("record %d differs", n)
				}
				n++
				return nil
			})
			if n != tc.records || end != tc.end || errors.Is(err, ErrCorrupt) != tc.corrupt || (err != nil && !tc.corrupt) {
				t.Fatalf("%d records, end %d, err %v; want %d, %d, corrupt %v", n, end, err, tc.records, tc.end, tc.corrupt)
			}
		})
	}
	stop := errors.New("stop")
	if end, err := ReadFrames(file, 0, func([]byte) error { return stop }); err != stop || end != 0 {
		t.Fatalf("fn's error: %d %v", end, err)
	}
}

func flipAt(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x10; return c }

func zeroAt(b []byte, i, j int) []byte { c := bytes.Clone(b); clear(c[i:j]); return c }
