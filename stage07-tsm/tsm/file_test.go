package tsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeTestFile writes keys k000…k(n-1) with random values of every type
// and returns the oracle.
func writeTestFile(t testing.TB, path string, nkeys, perKey int, seed uint64) *oracle {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	o := newOracle()
	w, err := newWriter(path, 1)
	mustNoErr(t, err)
	for i := range nkeys {
		key := fmt.Sprintf("m,host=h%04d#!~#f", i)
		typ := allTypes[i%len(allTypes)]
		v := randSeries(r, typ, 1+r.IntN(perKey))
		for j := range v.T {
			var bits uint64
			var s string
			if typ == StringType {
				s = v.S[j]
			} else {
				bits = v.V[j]
			}
			o.add(key, typ, v.T[j], bits, s)
		}
		mustNoErr(t, w.writeKey([]byte(key), &v))
	}
	st, err := w.Close()
	mustNoErr(t, err)
	if st.Keys != nkeys {
		t.Fatalf("wrote %d keys, want %d", st.Keys, nkeys)
	}
	return o
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "000001-01.tsm")
	o := writeTestFile(t, path, 500, 2500, 1)
	r, err := OpenReader(path)
	mustNoErr(t, err)
	defer r.Close()
	if r.KeyCount() != 500 || r.Level() != 1 {
		t.Fatalf("keys %d level %d", r.KeyCount(), r.Level())
	}
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		got, _, _, err := r.KeyAt(i)
		mustNoErr(t, err)
		if string(got) != k {
			t.Fatalf("key %d = %q, want %q", i, got, k)
		}
		all, _, err := r.Read([]byte(k), -1<<63, 1<<63-1)
		mustNoErr(t, err)
		if err := sameValues(all, o.want(k, -1<<63, 1<<63-1)); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		// a window inside the key's range
		w := o.want(k, -1<<63, 1<<63-1)
		lo, hi := w.T[w.Len()/3], w.T[2*w.Len()/3]
		part, _, err := r.Read([]byte(k), lo, hi)
		mustNoErr(t, err)
		if err := sameValues(part, o.want(k, lo, hi)); err != nil {
			t.Fatalf("%s [%d,%d]: %v", k, lo, hi, err)
		}
	}
	// absent keys: nothing read; most rejected by the bloom filter alone
	before := r.BloomRejects()
	for i := range 1000 {
		v, n, err := r.Read([]byte(fmt.Sprintf("m,host=x%04d#!~#f", i)), -1<<63, 1<<63-1)
		if err != nil || v.Len() != 0 || n != 0 {
			t.Fatalf("absent key: %d values, %d blocks, %v", v.Len(), n, err)
		}
	}
	if rej := r.BloomRejects() - before; rej < 950 {
		t.Errorf("bloom filter rejected %d of 1000 absent keys, want ≥ 950 (≈ 99%% at 10 bits/key)", rej)
	}
}

func TestBloomNoFalseNegatives(t *testing.T) {
	b := newBloom(10000)
	for i := range 10000 {
		b.Add([]byte(fmt.Sprint("key", i)))
	}
	fp := 0
	for i := range 10000 {
		if !b.mayContain([]byte(fmt.Sprint("key", i))) {
			t.Fatalf("false negative for key%d", i)
		}
		if b.mayContain([]byte(fmt.Sprint("other", i))) {
			fp++
		}
	}
	// theory: (1-e^(-7/10))^7 ≈ 0.82 %
	if fp > 200 {
		t.Errorf("%d false positives in 10,000 (%.2f%%), want ≲ 1%%", fp, float64(fp)/100)
	}
	if b.K() != 7 || b.FillRatio() < 0.4 || b.FillRatio() > 0.6 {
		t.Errorf("k=%d fill %.2f, want k=7 and about half the bits set", b.K(), b.FillRatio())
	}
}

// TestFileCorruption damages each section of a file: the index, offsets,
// bloom filter and footer are caught at open, a block when it is read.
func TestFileCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "000001-01.tsm")
	writeTestFile(t, path, 50, 100, 2)
	orig, err := os.ReadFile(path)
	mustNoErr(t, err)
	foot := orig[len(orig)-footerSize:]
	indexOff := int(binary.LittleEndian.Uint64(foot))
	bloomOff := int(binary.LittleEndian.Uint64(foot[16:]))
	cases := []struct {
		name   string
		off    int
		atOpen bool
	}{
		{"magic", 0, true},
		{"version", 4, true},
		{"index", indexOff + 3, true},
		{"bloom", bloomOff + 9, true},
		{"footer offsets", len(orig) - footerSize + 1, true},
		{"footer magic", len(orig) - 1, true},
		{"first block", headerSize + 10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := slices.Clone(orig)
			b[c.off] ^= 0x04
			p := filepath.Join(t.TempDir(), "x.tsm")
			mustNoErr(t, os.WriteFile(p, b, 0o644))
			r, err := OpenReader(p)
			if c.atOpen {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open: %v, want ErrCorrupt", err)
				}
				return
			}
			mustNoErr(t, err)
			defer r.Close()
			k, _, _, err := r.KeyAt(0)
			mustNoErr(t, err)
			if _, _, err := r.Read(k, -1<<63, 1<<63-1); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: %v, want ErrCorrupt", err)
			}
		})
	}
	for _, n := range []int{0, 10, len(orig) / 2, len(orig) - 1} {
		p := filepath.Join(t.TempDir(), "t.tsm")
		mustNoErr(t, os.WriteFile(p, orig[:n], 0o644))
		if _, err := OpenReader(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v, want ErrCorrupt", n, err)
		}
	}
}

// FuzzReader opens arbitrary bytes as a TSM file with the footer CRC fixed
// up (so the structure checks past it run) and reads every key: errors
// must wrap ErrCorrupt and nothing may panic.
func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "000001-01.tsm")
	writeTestFile(f, path, 5, 30, 3)
	b, _ := os.ReadFile(path)
	f.Add(b)
	f.Add(b[:len(b)-5])
	f.Add([]byte("TSM7\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= headerSize+footerSize {
			foot := data[len(data)-footerSize:]
			io := binary.LittleEndian.Uint64(foot)
			if io <= uint64(len(data)-footerSize) {
				binary.LittleEndian.PutUint32(foot[28:], crc32c(data[io:len(data)-footerSize+28]))
			}
		}
		r, err := newReader("fuzz", data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for i := range r.KeyCount() {
			k, _, _, err := r.KeyAt(i)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("KeyAt: %v", err)
				}
				continue
			}
			if _, _, err := r.Read(k, -1<<63, 1<<63-1); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFieldType) {
				t.Fatalf("Read: %v", err)
			}
		}
	})
}

func TestWALRecordRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	b := NewBatch()
	for i := range 50 {
		typ := allTypes[i%5]
		v := randSeries(r, typ, 1+r.IntN(20))
		for j := range v.T {
			var bits uint64
			var s string
			if typ == StringType {
				s = v.S[j]
			} else {
				bits = v.V[j]
			}
			mustNoErr(t, b.Add([]byte(fmt.Sprint("k", i)), typ, v.T[j], bits, s))
		}
	}
	rec := appendWriteRecord(nil, b)
	got := NewBatch()
	mustNoErr(t, decodeWriteRecord(rec, got))
	if got.Len() != b.Len() || got.Keys() != b.Keys() {
		t.Fatalf("%d values %d keys, want %d %d", got.Len(), got.Keys(), b.Len(), b.Keys())
	}
	for i := range b.keys {
		if got.keys[i] != b.keys[i] {
			t.Fatalf("key %d", i)
		}
		if err := sameValues(got.vals[i], b.vals[i]); err != nil {
			t.Fatalf("key %s: %v", b.keys[i], err)
		}
	}
	for n := range len(rec) {
		if err := decodeWriteRecord(rec[:n], got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("record cut at %d: %v", n, err)
		}
	}
	d := appendDeleteRecord(nil, []string{"a", "bb"}, -5, 7)
	keys, lo, hi, err := decodeDeleteRecord(d)
	if err != nil || !slices.Equal(keys, []string{"a", "bb"}) || lo != -5 || hi != 7 {
		t.Fatalf("delete record: %v %d %d %v", keys, lo, hi, err)
	}
}

func FuzzDecodeWriteRecord(f *testing.F) {
	b := NewBatch()
	b.Add([]byte("cpu#!~#v"), FloatType, 1, 2, "")
	b.Add([]byte("s#!~#v"), StringType, 1, 0, "hello")
	b.Add([]byte("b#!~#v"), BooleanType, 1, 1, "")
	f.Add(appendWriteRecord(nil, b))
	f.Add(appendDeleteRecord(nil, []string{"k"}, 1, 2))
	f.Fuzz(func(t *testing.T, rec []byte) {
		got := NewBatch()
		if err := decodeWriteRecord(rec, got); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		if _, _, _, err := decodeDeleteRecord(rec); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
	})
}
