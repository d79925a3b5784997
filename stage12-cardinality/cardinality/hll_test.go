package cardinality

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// hashOf is the test's stream of distinct hashes: xxHash64 of i under a
// seed, the hash function the package is fed in production.
func hashOf(seed, i uint64) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	binary.LittleEndian.PutUint64(b[8:], i)
	return xxhash.Sum64(b[:])
}

// relErr is |est-n|/n.
func relErr(est uint64, n int) float64 { return math.Abs(float64(est)-float64(n)) / float64(n) }

// TestRankAndDenseOf: a hash added sparse, then converted, sets the same
// register to the same rank as the hash added dense (rank recomputed here
// from the hash by counting bits one at a time).
func TestRankAndDenseOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		h := rng.Uint64()
		switch i % 4 { // hashes with many leading zeros after the index
		case 1:
			h &^= (1<<40 - 1) << 10
		case 2:
			h &= 0xFFFC000000000000
		}
		idx := uint32(h >> 50)
		want := uint8(1)
		for b := 49; b >= 0 && h>>uint(b)&1 == 0; b-- {
			want++
		}
		if want > 51 {
			want = 51
		}
		if r := rank(h); r != want {
			t.Fatalf("rank(%#x) = %d, want %d", h, r, want)
		}
		// At every sparse precision q, and reduced from 25 bits to q.
		for q := uint8(Precision); q <= sparsePrecision; q++ {
			e := sparseEntry(h, q)
			gi, gr := denseOf(e, q)
			if gi != idx || gr != want {
				t.Fatalf("q=%d: denseOf(sparseEntry(%#x)) = (%d, %d), want (%d, %d)", q, h, gi, gr, idx, want)
			}
			if r := reduce(sparseEntry(h, sparsePrecision), sparsePrecision, q); r != e {
				t.Fatalf("q=%d: reduce(sparseEntry(%#x)) = %#x, want %#x", q, h, r, e)
			}
		}
	}
}

// TestDenseRegisters: Add's registers against a plain array, and their
// packing for the encoding (register j at bits [6j, 6j+6)) against a
// bit-by-bit reference, and back.
func TestDenseRegisters(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	h := &HLL{dense: newDense()}
	var plain [Registers]uint8
	for range 300000 {
		x := rng.Uint64()
		i, r := uint32(x>>50), rank(x)
		h.Add(x)
		plain[i] = max(plain[i], r)
	}
	for j := range uint32(Registers) {
		if got := h.register(j); got != plain[j] {
			t.Fatalf("register %d = %d, want %d", j, got, plain[j])
		}
	}
	plain[Registers-1] = 63 // the top bits of the last byte
	copy(h.dense, plain[:])
	packed := packRegisters(nil, h.dense)
	if len(packed) != DenseBytes {
		t.Fatalf("packed %d bytes, want %d", len(packed), DenseBytes)
	}
	for bit := range Registers * 6 {
		want := plain[bit/6] >> (bit % 6) & 1
		if got := packed[bit/8] >> (bit % 8) & 1; got != want {
			t.Fatalf("packed bit %d = %d, want %d (register %d)", bit, got, want, bit/6)
		}
	}
	if !bytes.Equal(unpackRegisters(packed), plain[:]) {
		t.Fatal("unpacked registers differ")
	}
}

// TestMaxRegisters: the SWAR merge against a register-by-register max,
// with every value 0..51 on both sides in every byte position.
func TestMaxRegisters(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := &HLL{dense: newDense()}
	b := &HLL{dense: newDense()}
	for j := range uint32(Registers) {
		a.addDense(j, uint8(rng.IntN(52)))
		b.addDense(j, uint8(rng.IntN(52)))
	}
	want := make([]uint8, Registers)
	for j := range uint32(Registers) {
		want[j] = max(a.register(j), b.register(j))
	}
	a.Merge(b)
	for j := range uint32(Registers) {
		if got := a.register(j); got != want[j] {
			t.Fatalf("register %d after merge = %d, want %d", j, got, want[j])
		}
	}
	if len(a.dense) != Registers {
		t.Fatalf("merged registers are %d bytes", len(a.dense))
	}
}

// TestSparseToDense: the same hashes give identical registers whether the
// sketch went sparse → dense or was dense from the start.
func TestSparseToDense(t *testing.T) {
	s, d := New(), &HLL{dense: newDense()}
	for i := range uint64(5000) {
		x := hashOf(7, i)
		s.Add(x)
		d.Add(x)
		if i == 1000 && !s.Sparse() {
			t.Fatal("sketch of 1,000 hashes is not sparse")
		}
	}
	if s.Sparse() {
		t.Fatal("sketch of 5,000 hashes is still sparse")
	}
	if !bytes.Equal(s.dense, d.dense) {
		t.Fatal("sparse-then-dense registers differ from dense registers")
	}
}

func TestDuplicatesAndEmpty(t *testing.T) {
	h := New()
	if c := h.Count(); c != 0 {
		t.Fatalf("empty count %d", c)
	}
	for range 10 {
		for i := range uint64(100) {
			h.Add(hashOf(1, i))
		}
	}
	if c := h.Count(); c != 100 {
		t.Fatalf("100 distinct added 10 times: count %d (sparse is exact at this size)", c)
	}
	for i := range uint64(100000) {
		h.Add(hashOf(1, i%20000))
	}
	if e := relErr(h.Count(), 20000); e > 3*StdError {
		t.Fatalf("20,000 distinct with repeats: error %.4f", e)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 700, 3000, 3100, 100000} {
		h := New()
		for i := range uint64(n) {
			h.Add(hashOf(9, i))
		}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		g, err := Decode(b)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if g.Sparse() != h.Sparse() {
			t.Fatalf("n=%d: decoded sparse %v, want %v", n, g.Sparse(), h.Sparse())
		}
		// A sparse list over the budget comes back coarser: it counts
		// as a sketch that had been at that precision from the start.
		want := h.Count()
		if g.coarse != 0 {
			ref := &HLL{coarse: g.coarse}
			for i := range uint64(n) {
				ref.Add(hashOf(9, i))
			}
			want = ref.Count()
		}
		if g.Count() != want {
			t.Fatalf("n=%d: decoded count %d, want %d", n, g.Count(), want)
		}
		b2, _ := g.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("n=%d: re-encoding differs", n)
		}
		// Every single-bit flip is caught (the CRC, or the header checks).
		for i := 0; i < len(b); i += 1 + len(b)/200 {
			c := bytes.Clone(b)
			c[i] ^= 0x10
			if _, err := Decode(c); err == nil {
				t.Fatalf("n=%d: flip at byte %d accepted", n, i)
			}
		}
		if _, err := Decode(b[:len(b)-1]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("n=%d: truncated: %v", n, err)
		}
	}
	b, _ := New().MarshalBinary()
	b[1] = 2
	if _, err := Decode(b); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 2: %v", err)
	}
}

// TestDecodeRefusesInvalid: well-checksummed bytes with impossible
// contents are refused (the decoder does not trust the CRC alone).
func TestDecodeRefusesInvalid(t *testing.T) {
	seal := func(b []byte) []byte {
		return binary.LittleEndian.AppendUint32(b, crcOf(b))
	}
	// sparse builds a sparse body of n entries with Rice parameter k.
	sparse := func(n uint64, k uint8, write func(w *bitWriter), extra ...byte) []byte {
		w := bitWriter{b: append(binary.AppendUvarint([]byte{'H', 1, 14, 0}, n), k)}
		write(&w)
		return seal(append(w.flush(), extra...))
	}
	entry := func(w *bitWriter, gap uint64, k uint8, rank int) {
		w.ones(int(gap >> k))
		w.bits(gap, int(k))
		w.ones(rank - 1)
	}
	k1, k2 := riceParam(1, sparsePrecision), riceParam(2, sparsePrecision)
	// compact builds a compact body at precision q of one entry.
	compact := func(q uint8, gap uint64, rank int) []byte {
		k := riceParam(1, q)
		w := bitWriter{b: append(binary.AppendUvarint([]byte{'H', 1, 14, 2, q}, 1), k)}
		entry(&w, gap, k, rank)
		return seal(w.flush())
	}
	cases := map[string][]byte{
		"form 7":             seal([]byte{'H', 1, 14, 7}),
		"rank 41":            sparse(1, k1, func(w *bitWriter) { entry(w, 5, k1, 41) }),
		"index 2^25":         sparse(1, k1, func(w *bitWriter) { entry(w, 1<<25, k1, 1) }),
		"trailing byte":      sparse(1, k1, func(w *bitWriter) { entry(w, 5, k1, 1) }, 0),
		"set padding bit":    sparse(1, k1, func(w *bitWriter) { entry(w, 5, k1, 1); w.bits(1, 1) }),
		"wrong parameter":    sparse(1, k1-1, func(w *bitWriter) { entry(w, 5, k1-1, 1) }),
		"one entry of two":   sparse(2, k2, func(w *bitWriter) { entry(w, 5, k2, 1) }),
		"count over max":     seal(binary.AppendUvarint([]byte{'H', 1, 14, 0}, sparseMax+1)),
		"short dense":        seal(append([]byte{'H', 1, 14, 1}, make([]byte, 100)...)),
		"dense register 63":  seal(append([]byte{'H', 1, 14, 1, 63}, make([]byte, DenseBytes-1)...)),
		"compact q=25":       compact(25, 5, 1),
		"compact q=13":       compact(13, 5, 1),
		"compact rank 52":    compact(14, 5, 52),
		"compact index 2^14": compact(14, 1<<14, 1),
		"compact no q":       seal([]byte{'H', 1, 14, 2}),
	}
	if h, err := Decode(compact(14, 5, 51)); err != nil || h.sparse[0] != 5<<6|51 || h.sp() != 14 {
		t.Fatalf("valid compact body: %v %v", h, err)
	}
	// The builder itself is right: the same entry with rank 3 decodes.
	if h, err := Decode(sparse(1, k1, func(w *bitWriter) { entry(w, 5, k1, 3) })); err != nil || h.sparse[0] != 5<<6|3 {
		t.Fatalf("valid sparse body: %v %v", h, err)
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func FuzzDecode(f *testing.F) {
	for _, n := range []int{0, 5, 200, 4000} {
		h := New()
		for i := range uint64(n) {
			h.Add(hashOf(11, i))
		}
		b, _ := h.MarshalBinary()
		f.Add(b)
		if h.Sparse() {
			// The list at 25 bits, as an older encoder wrote it whatever
			// its size.
			h.flush()
			old := appendSparse(nil, sparsePrecision, h.sparse)
			f.Add(binary.LittleEndian.AppendUint32(old, crcOf(old)))
		}
	}
	f.Add([]byte{'H', 1, 14, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to the same bytes and counts.
		c := h.Count()
		out, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			// Only a sparse list at 25 bits over the budget (as an
			// older encoder wrote it) may re-encode otherwise: coarser,
			// smaller, and stable from then on.
			g, err := Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := g.MarshalBinary()
			if b[3] != formSparse || len(b) <= sparseBudget || len(out) >= len(b) || !bytes.Equal(again, out) {
				t.Fatalf("decoded sketch re-encodes differently")
			}
		}
		h.Add(1) // and is usable
		if h.Count() < c {
			t.Fatalf("count fell after an Add")
		}
	})
}

// TestSparseBudget: every sparse sketch under 1,000 distinct encodes in
// at most 1 KiB; below a few hundred at full 25-bit precision (and then
// decodes to the very same estimate); a coarsened one decodes at the
// finest precision that fits, and is not coarser than needed.
func TestSparseBudget(t *testing.T) {
	for seed := range uint64(5) {
		h := New()
		for n := 1; n < 1000; n++ {
			h.Add(hashOf(100+seed, uint64(n)))
			if n%37 != 0 && n != 999 {
				continue
			}
			b, _ := h.MarshalBinary()
			if len(b) > sparseBudget {
				t.Fatalf("seed %d, n=%d: %d bytes", seed, n, len(b))
			}
			g, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if n <= 300 && (g.coarse != 0 || g.Count() != h.Count()) {
				t.Fatalf("seed %d, n=%d: coarsened to %d bits", seed, n, g.sp())
			}
			if g.coarse != 0 {
				h.flush()
				finer := g.sp() + 1
				if sz := sparseSize(reduceAll(h.sparse, sparsePrecision, finer), finer); sz <= sparseBudget {
					t.Fatalf("seed %d, n=%d: written at %d bits, %d would fit (%d bytes)", seed, n, g.sp(), finer, sz)
				}
				if got := len(b); got != sparseSize(g.sparse, g.sp()) {
					t.Fatalf("seed %d, n=%d: %d bytes, sparseSize says %d", seed, n, got, sparseSize(g.sparse, g.sp()))
				}
			}
			if e := relErr(g.Count(), n); e > 3*StdError {
				t.Fatalf("seed %d, n=%d: decoded estimate %d", seed, n, g.Count())
			}
		}
	}
}

// TestMergeAcrossPrecisions: sparse sketches at different index
// precisions merge at the coarser one, into exactly the sketch that
// precision would have built from all the hashes, in either direction;
// and a coarse sparse sketch merged into a dense one sets the registers
// its hashes set.
func TestMergeAcrossPrecisions(t *testing.T) {
	build := func(coarse uint8, from, to uint64) *HLL {
		h := &HLL{coarse: coarse}
		for i := from; i < to; i++ {
			h.Add(hashOf(77, i))
		}
		return h
	}
	for _, c := range []uint8{0, 3, sparsePrecision - Precision} {
		for _, d := range []uint8{0, 5, sparsePrecision - Precision} {
			a, b := build(c, 0, 600), build(d, 300, 1100)
			a.Merge(b)
			want := build(max(c, d), 0, 1100)
			want.flush()
			a.flush()
			if a.coarse != max(c, d) || !slices.Equal(a.sparse, want.sparse) {
				t.Fatalf("coarse %d into %d: %d entries at %d bits, want %d at %d", d, c, len(a.sparse), a.sp(), len(want.sparse), want.sp())
			}
		}
	}
	dense := build(0, 0, 5000)
	dense.Merge(build(sparsePrecision-Precision, 4000, 6000))
	if !bytes.Equal(dense.dense, build(0, 0, 6000).dense) {
		t.Fatal("coarse sparse into dense: registers differ")
	}
}
