package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/golang/snappy"
	"github.com/tsdb-course/stage01-memstore/model"
)

// counterBatch is one scrape of n counters that grow by random increments:
// the shape of most real samples, and the data compression is judged on.
func counterBatch(dst []RefSample, vals []float64, rng *rand.Rand, t int64) []RefSample {
	dst = dst[:0]
	for i := range vals {
		vals[i] += float64(rng.IntN(100))
		dst = append(dst, RefSample{Ref: uint64(i + 1), T: t, V: vals[i]})
	}
	return dst
}

// A log written in three runs, one per Compression, replays as one: every
// record in order, bytes equal to what was logged. This is what lets a log
// written before compression existed (CompressionNone's frames are that
// format) be read, and the setting change between restarts.
func TestCompressionMixedLogReplays(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 500)
	var want [][]byte
	var batch []RefSample
	ts := int64(1_700_000_000_000)
	for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionZstd, CompressionNone} {
		w, err := Open(dir, Options{Compression: c, SegmentSize: 64 << 10, Sync: SyncNone})
		if err != nil {
			t.Fatal(err)
		}
		series := AppendSeries(nil, []RefSeries{{Ref: uint64(len(want) + 1), Labels: model.MustFromStrings("job", c.String())}})
		recs := [][]byte{series, {0x10, 'x'}} // a tiny record of another user's type
		for range 20 {
			ts += 15_000
			batch = counterBatch(batch, vals, rng, ts)
			recs = append(recs, AppendSamples(nil, batch))
		}
		if err := w.Log(recs...); err != nil {
			t.Fatal(err)
		}
		want = append(want, recs...)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, stats, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, logged %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	compressedRecs, stored, logical := 0, int64(0), int64(0)
	for _, s := range stats {
		compressedRecs += s.Compressed
		stored += s.Bytes
		logical += s.RecordBytes
	}
	// The sample batches of the two compressed runs (20 each) are stored
	// compressed; the raw runs, the tiny records and (at 500 series) the
	// series records stay as they were.
	if compressedRecs < 40 {
		t.Fatalf("%d records stored compressed, want at least the 40 compressed batches", compressedRecs)
	}
	if stored >= logical {
		t.Fatalf("stored %d bytes for %d bytes of records", stored, logical)
	}
}

// The bytes of a compressed frame, checked with independent decoders: the
// length and CRC-32C of the stored bytes, the flag type, then a Snappy
// block that github.com/golang/snappy (the reference Go implementation, not
// the library the log uses) decodes to the record, or a zstd frame (magic
// 28 B5 2F FD, RFC 8878 §3.1.1).
func TestCompressedFrameBytes(t *testing.T) {
	rec := append([]byte{byte(RecordSamples)}, bytes.Repeat([]byte("counter 42 "), 40)...)
	for _, tc := range []struct {
		c    Compression
		flag byte
	}{{CompressionSnappy, 0xFE}, {CompressionZstd, 0xFF}} {
		t.Run(tc.c.String(), func(t *testing.T) {
			frame, err := appendRecordFrame([]byte("prefix"), rec, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if string(frame[:6]) != "prefix" {
				t.Fatalf("prefix overwritten: %q", frame[:6])
			}
			frame = frame[6:]
			n := binary.LittleEndian.Uint32(frame[0:])
			if int(n) != len(frame)-8 {
				t.Fatalf("length field %d, frame of %d bytes", n, len(frame))
			}
			if crc := crc32.Checksum(frame[8:], crc32.MakeTable(crc32.Castagnoli)); crc != binary.LittleEndian.Uint32(frame[4:]) {
				t.Fatalf("CRC %08x does not cover the stored bytes", crc)
			}
			if frame[8] != tc.flag {
				t.Fatalf("type byte %#x, want %#x", frame[8], tc.flag)
			}
			if len(frame) >= len(rec)/2 {
				t.Fatalf("%d-byte frame for a %d-byte repetitive record", len(frame), len(rec))
			}
			body := frame[9:]
			switch tc.c {
			case CompressionSnappy:
				out, err := snappy.Decode(nil, body)
				if err != nil || !bytes.Equal(out, rec) {
					t.Fatalf("reference snappy decode: %v (equal %v)", err, bytes.Equal(out, rec))
				}
			case CompressionZstd:
				if !bytes.Equal(body[:4], []byte{0x28, 0xB5, 0x2F, 0xFD}) {
					t.Fatalf("zstd magic % x", body[:4])
				}
			}
			out, _, err := decompress(frame[8:], nil)
			if err != nil || !bytes.Equal(out, rec) {
				t.Fatalf("decompress: %v", err)
			}
		})
	}
}

// Records that compression would not shrink are stored as they are, with
// the caller's type byte: short ones and incompressible ones.
func TestIncompressibleStoredRaw(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0x42
	short := []byte{0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, c := range []Compression{CompressionSnappy, CompressionZstd} {
		for _, rec := range [][]byte{random, short} {
			frame, err := appendRecordFrame(nil, rec, c)
			if err != nil {
				t.Fatal(err)
			}
			if want := appendFrame(nil, rec); !bytes.Equal(frame, want) {
				t.Fatalf("%v, %d-byte record: frame is not the raw frame (type %#x, %d bytes)", c, len(rec), frame[8], len(frame))
			}
		}
	}
}

// The flag values are the log's: a caller cannot log them.
func TestReservedTypesRejected(t *testing.T) {
	w := mustOpen(t, t.TempDir(), Options{Sync: SyncNone})
	for _, typ := range []byte{0xFE, 0xFF} {
		if err := w.Log([]byte{typ, 1, 2, 3}); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("type %#x: %v, want ErrInvalidRecord", typ, err)
		}
	}
	if err := w.Log([]byte{MaxRecordType, 1}); err != nil {
		t.Fatalf("type %#x: %v", MaxRecordType, err)
	}
}

// A compressed frame whose checksum holds but whose bytes are not a
// compressed record (a faulty writer, not a crash): replay stops there
// with a CorruptionError, Check reports one corrupt record, and Repair cuts
// out that frame alone, keeping the records on both sides.
func TestUndecodableFrame(t *testing.T) {
	for _, flag := range []byte{0xFE, 0xFF} {
		dir := t.TempDir()
		w := mustOpen(t, dir, Options{Sync: SyncNone, Compression: CompressionNone})
		bad := append([]byte{flag}, []byte("\x05not snappy, not zstd")...)
		// Written through the frame layer: Log would refuse the flag type.
		var b []byte
		for i := range 3 {
			b = appendFrame(b, fixedRecord(i))
		}
		b = appendFrame(b, bad)
		for i := 3; i < 6; i++ {
			b = appendFrame(b, fixedRecord(i))
		}
		w.Close()
		if err := os.WriteFile(filepath.Join(dir, SegmentName(0)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, ClosedMarkerName))
		recs, _, err := readAll(t, dir)
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Offset != 300 || len(recs) != 3 {
			t.Fatalf("flag %#x: replay read %d records, err %v; want 3 and corruption at offset 300", flag, len(recs), err)
		}
		rep, err := Check(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || rep.Problems[0].Kind != Corrupt || rep.Problems[0].Offset != 300 || rep.Problems[0].Records != 1 {
			t.Fatalf("flag %#x: Check: %+v", flag, rep.Problems)
		}
		if _, err := Repair(dir, Options{}); err != nil {
			t.Fatal(err)
		}
		recs, _, err = readAll(t, dir)
		if err != nil || len(recs) != 6 {
			t.Fatalf("flag %#x: after Repair %d records, %v", flag, len(recs), err)
		}
		for i, r := range recs {
			if !bytes.Equal(r, fixedRecord(i)) {
				t.Fatalf("record %d differs after Repair", i)
			}
		}
	}
}

// A checkpoint of a compressed log is written compressed (WAL.Checkpoint
// takes the log's setting) and replays to the same samples.
func TestCheckpointCompressed(t *testing.T) {
	sizes := map[Compression]int64{}
	for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionZstd} {
		dir := t.TempDir()
		w := mustOpen(t, dir, Options{Sync: SyncNone, Compression: c})
		rng := rand.New(rand.NewPCG(5, 6))
		vals := make([]float64, 300)
		var batch []RefSample
		var want []RefSample
		for i := range 10 {
			batch = counterBatch(batch, vals, rng, int64(i)*15_000)
			if i >= 5 {
				want = append(want, batch...)
			}
			if err := w.Log(AppendSamples(nil, batch)); err != nil {
				t.Fatal(err)
			}
		}
		upto, err := w.NextSegment()
		if err != nil {
			t.Fatal(err)
		}
		st, err := w.Checkpoint(upto, nil, 5*15_000)
		if err != nil {
			t.Fatal(err)
		}
		sizes[c] = st.Bytes
		recs, _, err := readAll(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		var got, buf []RefSample
		for _, r := range recs {
			if buf, err = DecodeSamples(r, buf); err != nil {
				t.Fatal(err)
			}
			got = append(got, buf...)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d samples after checkpoint, want %d", c, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: sample %d is %+v, want %+v", c, i, got[i], want[i])
			}
		}
	}
	if sizes[CompressionSnappy] >= sizes[CompressionNone] || sizes[CompressionZstd] >= sizes[CompressionNone] {
		t.Fatalf("checkpoint sizes %v: compression did not shrink it", sizes)
	}
}

func TestParseCompression(t *testing.T) {
	for _, c := range []Compression{CompressionSnappy, CompressionZstd, CompressionNone} {
		if got, err := ParseCompression(c.String()); err != nil || got != c {
			t.Fatalf("%v: %v %v", c, got, err)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Fatal("lz4 accepted")
	}
}

// FuzzDecompress: arbitrary stored bytes never panic the decoders, and a
// result is always a record Log would take.
func FuzzDecompress(f *testing.F) {
	rec := AppendSamples(nil, []RefSample{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}})
	for _, c := range []Compression{CompressionSnappy, CompressionZstd} {
		fr, err := appendRecordFrame(nil, rec, c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fr[8:])
	}
	f.Add([]byte{0xFE, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0xFF, 0x28, 0xB5, 0x2F, 0xFD, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if !compressed(b) {
			return // stored as is: nothing to decode
		}
		out, _, err := decompress(b, nil)
		if err == nil && checkRecord(out) != nil {
			t.Fatalf("decompressed to an invalid record %x", out)
		}
	})
}

// TestSnappyFrameBytes is the README's worked example, derived by hand from
// the Snappy block format (github.com/golang/snappy's format_description):
// the record 42 00 … 00 (type 0x42, 39 zero bytes) is stored as
//
//	08 00 00 00   n = 8: flag + 7 bytes of Snappy block
//	ce 67 67 65   CRC-32C of the 8 bytes that follow
//	fe            flag: a Snappy block follows
//	28            uvarint 40: the decoded length
//	04 42 00      literal tag (length-1)<<2|0 = 1<<2: two bytes, 42 00
//	96 01 00      copy tag (length-1)<<2|2 = 37<<2|2: 38 bytes from offset 1 (LE 01 00)
//
// and the reference decoder turns those bytes back into the record.
func TestSnappyFrameBytes(t *testing.T) {
	rec := append([]byte{0x42}, make([]byte, 39)...)
	want := []byte{0x08, 0, 0, 0, 0xce, 0x67, 0x67, 0x65, 0xfe, 0x28, 0x04, 0x42, 0x00, 0x96, 0x01, 0x00}
	if crc := crc32.Checksum(want[8:], crc32.MakeTable(crc32.Castagnoli)); crc != binary.LittleEndian.Uint32(want[4:]) {
		t.Fatalf("the example's CRC is %08x", crc)
	}
	if out, err := snappy.Decode(nil, want[9:]); err != nil || !bytes.Equal(out, rec) {
		t.Fatalf("reference decode of the example: % x, %v", out, err)
	}
	got, err := appendRecordFrame(nil, rec, CompressionSnappy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("frame\n% x\nwant\n% x", got, want)
	}
}
