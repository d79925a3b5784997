package chunks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestSegmentRotation writes chunks of random sizes with a small size
// limit and checks the files against a greedy-packing model: an entry goes
// into the current segment if it fits under the limit, else it starts the
// next one; every ref reads back its bytes.
func TestSegmentRotation(t *testing.T) {
	const limit = 1000
	dir := t.TempDir()
	w, err := NewSegmentWriter(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var datas [][]byte
	var refs []Ref
	// Model: segment number and offset of every entry.
	seg, off := 0, int64(limit) // "full": the first chunk opens segment 1
	var wantRefs []Ref
	var wantSizes []int64
	for i := range 300 {
		n := 1 + rng.IntN(200)
		if i == 7 {
			n = limit - SegmentHeader - 2 - 4 // exactly fills a fresh segment (2-byte uvarint)
		}
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		ref, err := w.WriteChunk(d)
		if err != nil {
			t.Fatal(err)
		}
		datas, refs = append(datas, d), append(refs, ref)
		size := int64(len(binary.AppendUvarint(nil, uint64(n))) + n + 4)
		if off+size > limit {
			if seg > 0 {
				wantSizes = append(wantSizes, off)
			}
			seg, off = seg+1, SegmentHeader
		}
		// The first byte says the chunk's encoding (random bytes
		// here: any of them), copied into the ref.
		enc := Ref(0) // a Gorilla chunk, a cold one (0xA0, 0xA1) or anything else: float
		if d[0] == 0x80 || d[0] == 0xC0 {
			enc = Ref(d[0] >> 6) // the markers: histogram, float histogram
		}
		wantRefs = append(wantRefs, NewRef(seg, int(off))|enc<<62)
		off += size
	}
	wantSizes = append(wantSizes, off)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range refs {
		if refs[i] != wantRefs[i] {
			t.Fatalf("chunk %d: ref %d:%d, want %d:%d", i, refs[i].File(), refs[i].Offset(), wantRefs[i].File(), wantRefs[i].Offset())
		}
	}
	for n, want := range wantSizes {
		fi, err := os.Stat(filepath.Join(dir, SegmentName(n+1)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != want || fi.Size() > limit {
			t.Fatalf("segment %d: %d bytes, want %d (limit %d)", n+1, fi.Size(), want, limit)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, SegmentName(len(wantSizes)+1))); !os.IsNotExist(err) {
		t.Fatalf("unexpected segment %d: %v", len(wantSizes)+1, err)
	}
	s, err := OpenSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var total int64
	for _, sz := range wantSizes {
		total += sz
	}
	if s.Size() != total {
		t.Fatalf("Size %d, want %d", s.Size(), total)
	}
	for i, ref := range refs {
		got, err := s.Chunk(ref)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("chunk %d: %v (%d bytes, want %d)", i, err, len(got), len(datas[i]))
		}
	}
	for _, bad := range []Ref{NewRef(0, 8), NewRef(len(wantSizes)+1, 8), NewRef(1, 3), NewRef(1, limit+5), refs[0] + 1} {
		if _, err := s.Chunk(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ref %d:%d: err %v, want ErrCorrupt", bad.File(), bad.Offset(), err)
		}
	}
}

func TestSegmentWriterRejects(t *testing.T) {
	w, err := NewSegmentWriter(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteChunk(nil); err == nil {
		t.Error("empty chunk accepted")
	}
	if _, err := w.WriteChunk(make([]byte, maxChunkLen+1)); err == nil {
		t.Error("oversized chunk accepted")
	}
}

// TestSegmentsDamage: a flipped byte fails the chunk's CRC; a bad header
// or a missing segment fails OpenSegments. All wrap ErrCorrupt.
func TestSegmentsDamage(t *testing.T) {
	write := func(t *testing.T) (string, []Ref) {
		dir := t.TempDir()
		w, _ := NewSegmentWriter(dir, 200)
		var refs []Ref
		for i := range 20 {
			ref, err := w.WriteChunk(bytes.Repeat([]byte{byte(i + 1)}, 50))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, refs
	}
	edit := func(t *testing.T, path string, fn func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, fn(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("flipped-byte", func(t *testing.T) {
		dir, refs := write(t)
		r := refs[5]
		edit(t, filepath.Join(dir, SegmentName(r.File())), func(b []byte) []byte { b[r.Offset()+10] ^= 0x40; return b })
		s, err := OpenSegments(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i, ref := range refs {
			_, err := s.Chunk(ref)
			if (i == 5) != errors.Is(err, ErrCorrupt) {
				t.Errorf("chunk %d: err %v", i, err)
			}
		}
	})
	t.Run("bad-header", func(t *testing.T) {
		dir, _ := write(t)
		edit(t, filepath.Join(dir, SegmentName(2)), func(b []byte) []byte { b[4] = 9; return b })
		if _, err := OpenSegments(dir); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("missing-segment", func(t *testing.T) {
		dir, _ := write(t)
		os.Remove(filepath.Join(dir, SegmentName(2)))
		if _, err := OpenSegments(dir); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		dir, refs := write(t)
		last := refs[len(refs)-1]
		edit(t, filepath.Join(dir, SegmentName(last.File())), func(b []byte) []byte { return b[:len(b)-3] })
		s, err := OpenSegments(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Chunk(last); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err %v", err)
		}
	})
}

// FuzzSegmentEntry: decoding an entry at any offset of any bytes returns
// the entry's bytes (checked against its CRC) or ErrCorrupt, never panics,
// and never returns a slice reaching outside the entry.
func FuzzSegmentEntry(f *testing.F) {
	entry := func(d []byte) []byte {
		b := append([]byte("TSC6\x01\x00\x00\x00"), binary.AppendUvarint(nil, uint64(len(d)))...)
		b = append(b, d...)
		return binary.LittleEndian.AppendUint32(b, crcOf(d))
	}
	f.Add(entry([]byte{0, 1, 2, 3, 4}), 8)
	f.Add(entry([]byte{9}), 8)
	f.Add(entry([]byte{9}), 9)
	f.Add([]byte("TSC6\x01\x00\x00\x00\xff\xff\xff\xff\x0f"), 8)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, off int) {
		d, err := entryAt(b, off, SegmentHeader)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(d) == 0 || cap(d) != len(d) || crcOf(d) != binary.LittleEndian.Uint32(b[off+uvarintLen(b[off:])+len(d):]) {
			t.Fatalf("entry at %d: %d bytes, cap %d, CRC mismatch or empty", off, len(d), cap(d))
		}
	})
}

func crcOf(d []byte) uint32 { return crc32c(d) }

func uvarintLen(b []byte) int { _, k := binary.Uvarint(b); return k }
