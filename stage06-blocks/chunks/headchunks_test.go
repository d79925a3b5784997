package chunks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type written struct {
	rec  HeadRecord
	data []byte
}

// recHeaderLen is the length of a version 2 record's fields before the
// chunk length, by the format: uvarint series, varint mint, uvarint
// maxt−mint.
func recHeaderLen(r HeadRecord) int {
	return len(binary.AppendUvarint(nil, r.Series)) + len(binary.AppendVarint(nil, r.MinT)) + len(binary.AppendUvarint(nil, uint64(r.MaxT-r.MinT)))
}

// writeHead writes n random chunks to a head-chunks dir with files of
// fileSize bytes and returns them in write order.
func writeHead(t *testing.T, dir string, fileSize, n int) []written {
	t.Helper()
	h, err := OpenHeadChunks(dir, fileSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var out []written
	for i := range n {
		d := make([]byte, 1+rng.IntN(300))
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		mint := int64(i) * 1000
		rec := HeadRecord{Series: uint64(1 + rng.IntN(50)), MinT: mint, MaxT: mint + 999}
		ref, err := h.Write(rec.Series, rec.MinT, rec.MaxT, d)
		if err != nil {
			t.Fatal(err)
		}
		rec.Ref = ref
		if got, err := h.Chunk(ref); err != nil || !bytes.Equal(got, d) {
			t.Fatalf("chunk %d read back before close: %v", i, err)
		}
		out = append(out, written{rec, d})
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHeadChunksReopen: every record written comes back, in order, when
// the directory is reopened, and reads the same bytes; new chunks go to a
// new file; files whose chunks all end before a time can be removed.
func TestHeadChunksReopen(t *testing.T) {
	dir := t.TempDir()
	const fileSize = 4096
	ws := writeHead(t, dir, fileSize, 100)
	files := map[int]bool{}
	for _, w := range ws {
		files[w.rec.Ref.File()] = true
	}
	if len(files) < 3 {
		t.Fatalf("only %d files for 100 chunks of files of %d bytes", len(files), fileSize)
	}
	var got []HeadRecord
	h, err := OpenHeadChunks(dir, fileSize, func(r HeadRecord) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	want := make([]HeadRecord, len(ws))
	for i, w := range ws {
		want[i] = w.rec
		d, err := h.Chunk(w.rec.Ref)
		if err != nil || !bytes.Equal(d, w.data) {
			t.Fatalf("chunk %d after reopen: %v", i, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("records after reopen:\n got %v\nwant %v", got, want)
	}
	ref, err := h.Write(7, 1e6, 1e6+5, []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if ref.File() != len(files)+1 {
		t.Fatalf("new chunk in file %d, want a new file %d", ref.File(), len(files)+1)
	}
	// Files whose chunks all end before the first chunk of the 3rd file.
	third := 0
	for third < len(ws) && ws[third].rec.Ref.File() < 3 {
		third++
	}
	before := h.FilesBefore(ws[third].rec.MinT)
	if !slices.Equal(before, []int{1, 2}) {
		t.Fatalf("FilesBefore = %v, want [1 2]", before)
	}
	if err := h.RemoveFiles(before); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Chunk(ws[0].rec.Ref); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("chunk of a removed file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SegmentName(1))); !os.IsNotExist(err) {
		t.Fatalf("file 1 still there: %v", err)
	}
	if d, err := h.Chunk(ws[third].rec.Ref); err != nil || !bytes.Equal(d, ws[third].data) {
		t.Fatalf("chunk of a kept file: %v", err)
	}
	if _, err := h.Write(1, 0, 0, make([]byte, fileSize)); !errors.Is(err, ErrHeadFileFull) {
		t.Fatalf("chunk larger than a file: %v", err)
	}
}

// TestHeadChunksDamage: a torn last record (a crash mid-write leaves a
// prefix of it, the rest zeros) and a corrupted record are reported as
// ErrCorrupt; the records before the damage are still delivered;
// RemoveAll clears the directory for a rebuild from the WAL.
func TestHeadChunksDamage(t *testing.T) {
	cases := []struct {
		name string
		// damage edits file 1 (all records are in it); k is the index of
		// the first damaged record.
		damage func(b []byte, ws []written) int
	}{
		{"torn-tail", func(b []byte, ws []written) int {
			k := len(ws) - 1
			off := ws[k].rec.Ref.Offset()
			clear(b[off+recHeaderLen(ws[k].rec)+3:])
			return k
		}},
		{"torn-header-only", func(b []byte, ws []written) int {
			k := len(ws) - 1
			off := ws[k].rec.Ref.Offset()
			clear(b[off+recHeaderLen(ws[k].rec):])
			return k
		}},
		{"flipped-data", func(b []byte, ws []written) int {
			off := ws[3].rec.Ref.Offset()
			b[off+recHeaderLen(ws[3].rec)+2] ^= 1
			return 3
		}},
		{"flipped-time", func(b []byte, ws []written) int {
			r := ws[5].rec // the first byte of mint: another time, same layout
			b[r.Ref.Offset()+len(binary.AppendUvarint(nil, r.Series))] ^= 0x02
			return 5
		}},
		{"huge-length", func(b []byte, ws []written) int {
			off := ws[2].rec.Ref.Offset() + recHeaderLen(ws[2].rec)
			copy(b[off:], []byte{0xff, 0xff, 0xff, 0x7f})
			return 2
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ws := writeHead(t, dir, 1<<20, 10)
			path := filepath.Join(dir, SegmentName(1))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			k := c.damage(b, ws)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var got []HeadRecord
			h, err := OpenHeadChunks(dir, 1<<20, func(r HeadRecord) { got = append(got, r) })
			if !errors.Is(err, ErrCorrupt) || h == nil {
				t.Fatalf("err %v, want ErrCorrupt and the opened set", err)
			}
			if len(got) != k {
				t.Fatalf("%d records before the damage delivered, want %d", len(got), k)
			}
			for i := range got {
				if got[i] != ws[i].rec {
					t.Fatalf("record %d: %v, want %v", i, got[i], ws[i].rec)
				}
			}
			if err := h.RemoveAll(); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("RemoveAll left %d files", len(ents))
			}
			ref, err := h.Write(1, 0, 1, []byte{1})
			if err != nil || ref.File() != 2 {
				t.Fatalf("write after RemoveAll: ref %d:%d, %v (want a fresh file 2)", ref.File(), ref.Offset(), err)
			}
			h.Close()
		})
	}
}

// FuzzHeadRecords: scanning any file content never panics, fails only
// with ErrCorrupt, and every record it delivers reads back through Chunk
// with a matching length.
func FuzzHeadRecords(f *testing.F) {
	rec := func(series uint64, mint, maxt int64, d []byte) []byte {
		b := binary.AppendUvarint(nil, series)
		b = binary.AppendVarint(b, mint)
		b = binary.AppendUvarint(b, uint64(maxt-mint))
		b = binary.AppendUvarint(b, uint64(len(d)))
		b = append(b, d...)
		return binary.LittleEndian.AppendUint32(b, crc32c(b))
	}
	rec1 := func(series uint64, mint, maxt int64, d []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, series)
		b = binary.LittleEndian.AppendUint64(b, uint64(mint))
		b = binary.LittleEndian.AppendUint64(b, uint64(maxt))
		b = binary.AppendUvarint(b, uint64(len(d)))
		b = append(b, d...)
		return binary.LittleEndian.AppendUint32(b, crc32c(b))
	}
	for _, v := range []struct {
		hdr string
		rec func(uint64, int64, int64, []byte) []byte
	}{{"THC6\x02\x00\x00\x00", rec}, {"THC6\x01\x00\x00\x00", rec1}} {
		hdr := []byte(v.hdr)
		two := append(append(append([]byte(nil), hdr...), v.rec(1, 0, 10, []byte{1, 2, 3})...), v.rec(2, -5, 20, []byte{9})...)
		f.Add(append(two, make([]byte, 64)...))
		f.Add(two[:len(two)-2])
		f.Add(append(append([]byte(nil), hdr...), make([]byte, 30)...))
		f.Add(append(append([]byte(nil), hdr...), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	}
	f.Add([]byte("THC6\x03"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hf := &headFile{n: 1, data: b}
		var recs []HeadRecord
		err := hf.scan(func(r HeadRecord) { recs = append(recs, r) })
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if int(hf.size.Load()) > len(b) {
			t.Fatalf("size %d beyond %d bytes", hf.size.Load(), len(b))
		}
		h := &HeadChunks{files: map[int]*headFile{1: hf}}
		h.publish()
		for _, r := range recs {
			d, err := h.Chunk(r.Ref)
			if err != nil {
				t.Fatalf("record at %d delivered by scan but unreadable: %v", r.Ref.Offset(), err)
			}
			hl := recHeaderLen(r)
			if hf.ver == 1 {
				hl = 24
			}
			l, _ := binary.Uvarint(b[r.Ref.Offset()+hl:])
			if uint64(len(d)) != l {
				t.Fatalf("record at %d: %d bytes, length field %d", r.Ref.Offset(), len(d), l)
			}
		}
	})
}

// TestHeadChunksTruncate: Truncate closes the file being written (so a
// later truncation can remove it), lists exactly the files whose chunks
// all end before mint, and files are as long as what they hold: header
// plus records.
func TestHeadChunksTruncate(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHeadChunks(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	chunk := bytes.Repeat([]byte{7}, 100)
	// A record here: series 1, mint (< 64: zigzag in one byte), width 10,
	// length 100 (one byte each), the chunk, the CRC: 1+1+1+1+100+4.
	const rec = 108
	write := func(maxt int64) Ref {
		ref, err := h.Write(1, maxt-10, maxt, chunk)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	size := func(n int) int64 {
		fi, err := os.Stat(filepath.Join(dir, SegmentName(n)))
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	write(10)
	write(20)
	if got := size(1); got != SegmentHeader+2*rec {
		t.Fatalf("file 1 is %d bytes, holds %d", got, SegmentHeader+2*rec)
	}
	if got := h.Truncate(15); len(got) != 0 {
		t.Fatalf("Truncate(15) = %v: file 1 still holds a chunk ending at 20", got)
	}
	if ref := write(30); ref.File() != 2 {
		t.Fatalf("chunk after Truncate went to file %d, want a new file 2", ref.File())
	}
	if got := h.Truncate(25); !slices.Equal(got, []int{1}) {
		t.Fatalf("Truncate(25) = %v, want [1]", got)
	}
	if got := h.Truncate(25); !slices.Equal(got, []int{1}) {
		t.Fatalf("Truncate(25) again = %v, want [1] (no empty file cut)", got)
	}
	if err := h.RemoveFiles([]int{1}); err != nil {
		t.Fatal(err)
	}
	if size(1) != -1 || size(2) != SegmentHeader+rec {
		t.Fatalf("after removal: file 1 %d bytes (want gone), file 2 %d bytes", size(1), size(2))
	}
	if ref := write(40); ref.File() != 3 {
		t.Fatalf("chunk after the second Truncate went to file %d, want 3", ref.File())
	}
	if got := h.Truncate(50); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("Truncate(50) = %v, want [2 3]", got)
	}
}

// TestHeadChunksFileSpan: with a span, a chunk goes to the file of the span
// its maxt falls in (a late chunk of the older span joins that span's file,
// not the newer one), Truncate lists a span's file as soon as the head is
// truncated past the span while the newer file stays open for writing, and
// at most maxOpenFiles spans are written at once (a fifth closes the
// oldest's file for writing). Spans of negative times are floored.
func TestHeadChunksFileSpan(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHeadChunks(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetFileSpan(100)
	chunk := bytes.Repeat([]byte{7}, 100)
	file := func(mint, maxt int64) int {
		t.Helper()
		ref, err := h.Write(1, mint, maxt, chunk)
		if err != nil {
			t.Fatal(err)
		}
		return ref.File()
	}
	if f := file(0, 40); f != 1 {
		t.Fatalf("first chunk in file %d", f)
	}
	if f := file(100, 140); f != 2 {
		t.Fatalf("chunk of span 1 in file %d, want a new file 2", f)
	}
	if f := file(50, 99); f != 1 {
		t.Fatalf("late chunk of span 0 in file %d, want 1 (its span's)", f)
	}
	if got := h.Truncate(50); len(got) != 0 {
		t.Fatalf("Truncate(50) = %v: file 1 holds a chunk ending at 99", got)
	}
	if got := h.Truncate(100); !slices.Equal(got, []int{1}) {
		t.Fatalf("Truncate(100) = %v, want [1]", got)
	}
	if f := file(150, 199); f != 2 {
		t.Fatalf("chunk of span 1 after Truncate(100) in file %d, want 2 (still being written)", f)
	}
	if err := h.RemoveFiles([]int{1}); err != nil {
		t.Fatal(err)
	}
	// Spans 2, 3, 4 open three more files; span 5 is a fifth: span 1's
	// file stops being written, so its next chunk starts file 7.
	for i, want := range []int{3, 4, 5, 6} {
		s := int64(i + 2)
		if f := file(s*100, s*100+10); f != want {
			t.Fatalf("chunk of span %d in file %d, want %d", s, f, want)
		}
	}
	if f := file(180, 190); f != 7 {
		t.Fatalf("chunk of span 1 after five spans in file %d, want a new file 7", f)
	}
	if f := file(-30, -5); f != 8 {
		t.Fatalf("chunk of span -1 in file %d, want 8", f)
	}
	if got := h.Truncate(0); !slices.Equal(got, []int{8}) {
		t.Fatalf("Truncate(0) = %v, want [8] (span -1 ends at 0)", got)
	}
}

// TestHeadRecordKnownBytes: the bytes of a version 2 file, by the format:
// the header, then series 3, mint 1000 (zigzag 2000: D0 0F), width 15, a
// 2-byte chunk and the CRC-32C of the record (0x09847C9D, computed
// apart), little-endian.
func TestHeadRecordKnownBytes(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHeadChunks(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Write(3, 1000, 1015, []byte{0xAA, 0xBB}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write(3, 1000, 999, []byte{1}); !errors.Is(err, ErrHeadChunkRange) {
		t.Fatalf("chunk ending before it starts: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, SegmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	rec := []byte{0x03, 0xD0, 0x0F, 0x0F, 0x02, 0xAA, 0xBB}
	want := append([]byte("THC6\x02\x00\x00\x00"), rec...)
	want = append(want, 0x9D, 0x7C, 0x84, 0x09) // CRC-32C 0x09847C9D
	if !bytes.Equal(got, want) {
		t.Fatalf("file bytes\n got % X\nwant % X", got, want)
	}
}

// TestHeadChunksReadsVersion1: a file of the version 1 format (24-byte
// fixed header per record), as an older version left it, zero-filled to
// its full size, opens with its records, its chunks read back, and new
// chunks go to a new file of the current version.
func TestHeadChunksReadsVersion1(t *testing.T) {
	dir := t.TempDir()
	rec := func(series uint64, mint, maxt int64, d []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, series)
		b = binary.LittleEndian.AppendUint64(b, uint64(mint))
		b = binary.LittleEndian.AppendUint64(b, uint64(maxt))
		b = binary.AppendUvarint(b, uint64(len(d)))
		b = append(b, d...)
		return binary.LittleEndian.AppendUint32(b, crc32c(b))
	}
	file := []byte("THC6\x01\x00\x00\x00")
	r1, r2 := rec(7, 100, 200, []byte{1, 2, 3}), rec(9, -50, 300, []byte{4})
	file = append(append(append(file, r1...), r2...), make([]byte, 4096)...)
	if err := os.WriteFile(filepath.Join(dir, SegmentName(1)), file, 0o644); err != nil {
		t.Fatal(err)
	}
	var got []HeadRecord
	h, err := OpenHeadChunks(dir, 1<<20, func(r HeadRecord) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	want := []HeadRecord{
		{Series: 7, MinT: 100, MaxT: 200, Ref: NewRef(1, SegmentHeader)},
		{Series: 9, MinT: -50, MaxT: 300, Ref: NewRef(1, SegmentHeader+len(r1))},
	}
	if len(got) != 2 || got[0].Series != 7 || got[1].Series != 9 || got[0].MinT != 100 || got[1].MinT != -50 || got[1].MaxT != 300 ||
		got[0].Ref.File() != 1 || got[0].Ref.Offset() != want[0].Ref.Offset() || got[1].Ref.Offset() != want[1].Ref.Offset() {
		t.Fatalf("records %+v, want %+v", got, want)
	}
	for i, d := range [][]byte{{1, 2, 3}, {4}} {
		if c, err := h.Chunk(got[i].Ref); err != nil || !bytes.Equal(c, d) {
			t.Fatalf("chunk %d: % X, %v", i, c, err)
		}
	}
	ref, err := h.Write(7, 400, 500, []byte{5, 6})
	if err != nil || ref.File() != 2 {
		t.Fatalf("new chunk: file %d, %v", ref.File(), err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SegmentName(2)))
	if err != nil || b[4] != 2 {
		t.Fatalf("new file version %v, %v", b[4], err)
	}
	if c, err := h.Chunk(ref); err != nil || !bytes.Equal(c, []byte{5, 6}) {
		t.Fatalf("new chunk read back: % X, %v", c, err)
	}
}
