package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// randomIndex builds an index of n random series with some deleted, and the
// oracle of what is left.
func randomIndex(t testing.TB, seed uint64, n int) (*Index, *oracle) {
	r := rand.New(rand.NewPCG(seed, 9))
	ix, o := New(), newOracle()
	for i := range n {
		ls, _ := randomLabels(r).With("i", fmt.Sprint(i%(n/2+1)))
		id, created, err := ix.Add(ls)
		if err != nil {
			t.Fatal(err)
		}
		if created {
			o.series[id] = ls
		}
	}
	for id := range o.series {
		if r.IntN(5) == 0 || id >= 5000 && id < 9200 { // 9200-5000 > 4096: at least one whole page gone
			ix.Delete(id)
			delete(o.series, id)
		}
	}
	return ix, o
}

func roundTripBytes(t *testing.T, ix *Index) *Index { return roundTrip(t, ix, nil) }

func roundTrip(t *testing.T, ix *Index, payload PayloadFunc) *Index {
	t.Helper()
	var buf bytes.Buffer
	n, err := ix.WriteTo(&buf, payload)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d, %v (buffer %d)", n, err, buf.Len())
	}
	got, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFileRoundTrip(t *testing.T) {
	ix, o := randomIndex(t, 1, 20000)
	payload := func(id SeriesID) []byte {
		if id%3 == 0 {
			return nil
		}
		return fmt.Appendf(nil, "chunks of %d", id)
	}
	back := roundTrip(t, ix, payload)
	r := rand.New(rand.NewPCG(3, 3))
	checkAll(t, back, o, r)
	if back.NextID() != ix.NextID() {
		t.Fatalf("NextID %d, want %d", back.NextID(), ix.NextID())
	}
	for id := range o.series {
		if got, want := back.Payload(id), payload(id); !bytes.Equal(got, want) {
			t.Fatalf("Payload(%d) = %q, want %q", id, got, want)
		}
	}
	// Series found by their labels (the stored hashes), and Add continues
	// the ID sequence after the deleted tail.
	for id, ls := range o.series {
		if got, ok := back.Lookup(ls); !ok || got != id {
			t.Fatalf("Lookup(%v) = %d, %v; want %d", ls, got, ok, id)
		}
	}
	ls := model.MustFromStrings("new", "series")
	id, created, _ := back.Add(ls)
	if !created || uint64(id) != ix.NextID() {
		t.Fatalf("Add after open: %d, %v; want %d", id, created, ix.NextID())
	}
	o.series[id] = ls
	// Delete after open, including from bitmaps read in place from the file.
	for id := range o.series {
		if id%7 == 0 {
			back.Delete(id)
			delete(o.series, id)
		}
	}
	checkAll(t, back, o, r)
	if back.Payload(id) != nil {
		t.Fatal("payload for a series added after open")
	}
	// Written again without a payload function, the payloads are kept.
	again := roundTrip(t, back, nil)
	checkAll(t, again, o, r)
	for id := range o.series {
		if got, want := again.Payload(id), back.Payload(id); !bytes.Equal(got, want) {
			t.Fatalf("Payload(%d) after rewrite = %q, want %q", id, got, want)
		}
	}
}

func TestWriteFileOpen(t *testing.T) {
	ix, o := randomIndex(t, 2, 3000)
	dir := t.TempDir()
	path := filepath.Join(dir, "index")
	if err := ix.WriteFile(path, nil); err != nil {
		t.Fatal(err)
	}
	back, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, back, o, rand.New(rand.NewPCG(4, 4)))
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Open of a missing file succeeded")
	}
	empty := roundTrip(t, New(), nil)
	if empty.Len() != 0 || empty.NextID() != 0 || len(empty.LabelNames()) != 0 {
		t.Fatal("empty index did not round-trip")
	}
}

// TestFileFormatBytes checks the documented layout on a two-series index,
// byte by byte (README.md, "File format").
func TestFileFormatBytes(t *testing.T) {
	ix := New()
	ix.Add(model.MustFromStrings("a", "x"))
	ix.Add(model.MustFromStrings("a", "y", "b", "x"))
	var buf bytes.Buffer
	if _, err := ix.WriteTo(&buf, func(id SeriesID) []byte { return []byte{0xc0 + byte(id)} }); err != nil {
		t.Fatal(err)
	}
	f := buf.Bytes()
	le := binary.LittleEndian
	h0 := model.MustFromStrings("a", "x").Hash()
	h1 := model.MustFromStrings("a", "y", "b", "x").Hash()
	var want []byte
	want = append(want, "TSIX\x01"...)
	sym := []byte{4, 1, 'a', 1, 'b', 1, 'x', 1, 'y'} // symbols 0:a 1:b 2:x 3:y
	want = append(want, sym...)
	want = le.AppendUint32(want, crc32.Checksum(sym, castagnoli))
	// Pairs in (name, value) order: 0 a=x {0}, 1 a=y {1}, 2 b=x {1}.
	bm := func(id uint16) []byte { // roaring portable format, one array container
		b := le.AppendUint32(nil, 12346) // cookie: no run containers
		b = le.AppendUint32(b, 1)        // one container
		b = le.AppendUint16(b, 0)        // key (high 16 bits)
		b = le.AppendUint16(b, 0)        // cardinality - 1
		b = le.AppendUint32(b, 16)       // offset of the container
		return le.AppendUint16(b, id)    // the value (low 16 bits)
	}
	post := []byte{3}
	post = append(append(post, 0, 2, 18), bm(0)...)
	post = append(append(post, 0, 3, 18), bm(1)...)
	post = append(append(post, 1, 2, 18), bm(1)...)
	postOff := uint64(len(want))
	want = append(want, post...)
	want = le.AppendUint32(want, crc32.Checksum(post, castagnoli))
	ser := []byte{2}
	ser = append(le.AppendUint64(append(ser, 0), h0), 1, 0, 1, 0xc0)    // id 0, hash, 1 label: pair 0, payload c0
	ser = append(le.AppendUint64(append(ser, 0), h1), 2, 1, 2, 1, 0xc1) // id 1 (gap 0), labels a=y b=x: pairs 1 2; labels sorted by name: a, b
	serOff := uint64(len(want))
	want = append(want, ser...)
	want = le.AppendUint32(want, crc32.Checksum(ser, castagnoli))
	var foot []byte
	for _, s := range [][2]uint64{{5, uint64(len(sym))}, {postOff, uint64(len(post))}, {serOff, uint64(len(ser))}} {
		foot = le.AppendUint64(le.AppendUint64(foot, s[0]), s[1])
	}
	foot = le.AppendUint64(foot, 2) // next ID
	foot = le.AppendUint32(foot, crc32.Checksum(foot, castagnoli))
	want = append(append(want, foot...), "TSIX"...)
	if !bytes.Equal(f, want) {
		t.Fatalf("file\n% x\nwant\n% x", f, want)
	}
}

// TestCorruption: every truncation and every single-byte change of a file is
// an ErrCorrupt error, never a panic or a silently different index.
func TestCorruption(t *testing.T) {
	ix, _ := randomIndex(t, 5, 300)
	var buf bytes.Buffer
	ix.WriteTo(&buf, func(id SeriesID) []byte { return []byte{byte(id)} })
	good := buf.Bytes()
	for n := range len(good) {
		if _, err := Decode(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	bad := slices.Clone(good)
	for i := range bad {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad[i] ^= x
			if _, err := Decode(bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d ^ %#x: %v", i, x, err)
			}
			bad[i] ^= x
		}
	}
	if _, err := Decode(append(slices.Clone(good), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatal("trailing byte accepted")
	}
}

// fixChecksums recomputes the CRCs of a file whose layout is intact, so the
// fuzzer's changes reach the section decoders.
func fixChecksums(b []byte) {
	if len(b) < headerSize+footerSize {
		return
	}
	le := binary.LittleEndian
	foot := b[len(b)-footerSize:]
	for i := range 3 {
		off, n := le.Uint64(foot[16*i:]), le.Uint64(foot[16*i+8:])
		if off > uint64(len(b)) || n > uint64(len(b)) || off+n+4 > uint64(len(b)-footerSize) {
			return
		}
		le.PutUint32(b[off+n:], crc32.Checksum(b[off:off+n], castagnoli))
	}
	le.PutUint32(foot[56:], crc32.Checksum(foot[:56], castagnoli))
}

// FuzzDecode feeds arbitrary files to Decode, as they are and with their
// CRCs fixed: it must never panic, every error must wrap ErrCorrupt, and an
// accepted file must give a usable index that writes back to a file that
// decodes the same.
func FuzzDecode(f *testing.F) {
	for _, n := range []int{0, 1, 5, 60} {
		ix, _ := randomIndex(f, uint64(n), n*2+2)
		var buf bytes.Buffer
		ix.WriteTo(&buf, func(id SeriesID) []byte { return []byte{byte(id)} })
		f.Add(buf.Bytes())
	}
	f.Add([]byte("TSIX\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fix := range []bool{false, true} {
			b := slices.Clone(data)
			if fix {
				fixChecksums(b)
			}
			ix, err := Decode(b)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error does not wrap ErrCorrupt: %v", err)
				}
				continue
			}
			all := ix.All().ToArray()
			for _, id := range all {
				if _, ok := ix.Labels(id); !ok {
					t.Fatalf("series %d has no labels", id)
				}
				ix.Payload(id)
			}
			for _, name := range ix.LabelNames() {
				for _, v := range ix.LabelValues(name) {
					ix.Select(MustNewMatcher(MatchEqual, name, v), MustNewMatcher(MatchNotRegexp, name, "a.*"))
				}
			}
			var buf bytes.Buffer
			if _, err := ix.WriteTo(&buf, nil); err != nil {
				t.Fatal(err)
			}
			back, err := Decode(buf.Bytes())
			if err != nil {
				t.Fatalf("rewritten file does not decode: %v", err)
			}
			if !slices.Equal(back.All().ToArray(), all) {
				t.Fatal("rewritten file has other series")
			}
		}
	})
}
