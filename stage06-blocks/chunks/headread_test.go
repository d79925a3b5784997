package chunks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSkipVarint: skipVarint ends every varint where binary.Uvarint does,
// for each length (1 to 10 bytes) and with the varint anywhere from the
// start of a long buffer to its very end (the 8-byte word and the byte
// loop), and finds no end in continuation bytes alone.
func TestSkipVarint(t *testing.T) {
	var vals []uint64
	for sh := range 64 {
		vals = append(vals, 1<<sh-1, 1<<sh, 1<<sh+1)
	}
	vals = append(vals, 0, math.MaxUint64)
	for _, v := range vals {
		enc := binary.AppendUvarint(nil, v)
		for pad := range 12 { // bytes after the varint
			b := append(append([]byte{0xFF, 0xFF, 0xFF}, enc...), bytes.Repeat([]byte{0x81}, pad)...)
			_, n := binary.Uvarint(b[3:])
			if got := skipVarint(b, 3); got != 3+n {
				t.Fatalf("%d (%d bytes) then %d bytes: end %d, want %d", v, len(enc), pad, got, 3+n)
			}
		}
	}
	for n := range 16 {
		if got := skipVarint(bytes.Repeat([]byte{0x80}, n), 0); got != -1 {
			t.Fatalf("%d continuation bytes: end %d, want -1", n, got)
		}
	}
	if got := skipVarint([]byte{1}, 1); got != -1 {
		t.Fatalf("past the end: %d, want -1", got)
	}
}

// TestChunkAtMatchesRecord: for version 2 records with fields of every
// width, back to back up to the end of the buffer, chunkAt finds the chunk
// headRecordAt decodes; any byte of a record changed (field or chunk or
// CRC) is ErrCorrupt, never another chunk.
func TestChunkAtMatchesRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var b []byte
	var offs []int
	for i := range 300 {
		d := make([]byte, rng.IntN(200))
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		mint := int64(rng.Uint64() >> rng.IntN(64))
		if i%2 == 1 {
			mint = -mint
		}
		offs = append(offs, len(b))
		r := binary.AppendUvarint(nil, rng.Uint64()>>rng.IntN(64))
		r = binary.AppendVarint(r, mint)
		r = binary.AppendUvarint(r, rng.Uint64()>>rng.IntN(64))
		r = binary.AppendUvarint(r, uint64(len(d)))
		r = append(r, d...)
		b = append(b, binary.LittleEndian.AppendUint32(r, crc32c(r))...)
	}
	for i, off := range offs {
		_, start, next, err := headRecordAt(b, off, headVersion)
		if err != nil || next == 0 {
			t.Fatalf("record %d: %v", i, err)
		}
		s, e, err := chunkAt(b, off, headVersion)
		if err != nil || s != start || e != next-4 {
			t.Fatalf("record %d: chunk [%d, %d) %v, want [%d, %d)", i, s, e, err, start, next-4)
		}
	}
	last := offs[len(offs)-1]
	for p := last; p < len(b); p++ {
		for _, x := range []byte{0x01, 0x80} {
			b[p] ^= x
			if _, _, err := chunkAt(b, last, headVersion); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d of the last record ^%#x: %v, want ErrCorrupt", p-last, x, err)
			}
			b[p] ^= x
		}
	}
}

// TestChunkAfterRemoval: chunks read back through Chunk across many files
// while files are cut and removed (the lookup table follows), and a chunk
// of a removed file is ErrCorrupt.
func TestChunkAfterRemoval(t *testing.T) {
	h, err := OpenHeadChunks(t.TempDir(), 256, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	type wr struct {
		ref  Ref
		data []byte
	}
	var ws []wr
	for i := range 40 { // two records a file
		d := bytes.Repeat([]byte{byte(i)}, 100)
		ref, err := h.Write(uint64(i), int64(i), int64(i), d)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, wr{ref, d})
	}
	gone := map[int]bool{1: true, 2: true, 7: true, 8: true}
	if err := h.RemoveFiles([]int{1, 2, 7, 8}); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		d, err := h.Chunk(w.ref)
		if gone[w.ref.File()] {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("chunk %d of removed file %d: %v", i, w.ref.File(), err)
			}
			continue
		}
		if err != nil || !bytes.Equal(d, w.data) {
			t.Fatalf("chunk %d in file %d: % X, %v", i, w.ref.File(), d, err)
		}
	}
	if _, err := h.Chunk(NewRef(99, SegmentHeader)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("chunk of a file never written: %v", err)
	}
}
