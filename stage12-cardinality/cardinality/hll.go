// Package cardinality counts, explains and limits the number of series a
// TSDB holds: a HyperLogLog to estimate distinct counts in 12 KiB (16 in
// memory), a
// Space-Saving summary for the heaviest series and label values, a Tracker
// that keeps both per metric and per label, a Limiter that refuses new
// series over a limit at the one place stage06 creates them, an Analyzer
// that turns the estimates into findings, and a forecast of the growth.
//
// The files, one concept each:
//
//	hll.go       HLL: registers, sparse and dense, Add, Count, Merge
//	encode.go    HLL's binary encoding (versioned, CRC-32C)
//	topk.go      TopK: Space-Saving with its per-entry error bound
//	tracker.go   Tracker: global, per-metric, per-label HLLs, heavy hitters, history
//	persist.go   the tracker's file and its crash-safe write
//	limiter.go   Limiter: per-metric and global series limits, dropped writes
//	analyze.go   Analyzer: the report, findings and recommendations
//	forecast.go  linear trend and Holt's smoothing over the hourly history
package cardinality

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// The sketch's shape. Precision 14 gives 2^14 registers and a standard
// error of 1.04/√m = 0.81 %; six bits hold any rank a 64-bit hash can
// produce at that precision (at most 64-14+1 = 51).
const (
	Precision  = 14
	Registers  = 1 << Precision
	DenseBytes = Registers * 6 / 8 // 12,288 bytes: the registers packed, as encoded

	// StdError is the relative standard error of the dense estimate.
	StdError = 1.04 / 128 // 1.04/√2^14

	// The sparse form keeps (index, rank) pairs at a finer precision, 25
	// bits of index, so small sets are counted almost exactly (linear
	// counting over 2^25 buckets) and each pair converts to the dense
	// register it would have set.
	sparsePrecision = 25
	sparseBuckets   = 1 << sparsePrecision
	// sparseMax is where the sparse form stops paying: 3,072 entries of 4
	// bytes take as much as the registers' encoding, three quarters of
	// their memory (and sorting and merging them costs more as they grow).
	sparseMax = DenseBytes / 4
	// tmpMax entries are collected unsorted before they are merged into
	// the sorted list, so a sparse Add is an append, not an insertion.
	tmpMax = 128
)

// HLL is a HyperLogLog sketch of 64-bit hashes (the series hash of stage01,
// xxHash64 of the canonical labels). The zero value is an empty sketch,
// ready to use. It starts sparse and turns dense, for good, past
// sparseMax distinct entries. An HLL is not safe for concurrent use (the
// Tracker locks around its sketches).
type HLL struct {
	// dense holds the 2^14 registers, a byte each; nil while the sketch
	// is sparse. Six bits would do (and the encoding packs them so), but
	// a byte a register makes Add a compare and a store, and Merge a
	// byte-wise maximum over whole words, eight registers at a time, where
	// packed six-bit fields straddle words and need twice the work; the
	// price is 4 KiB more per dense sketch in memory.
	dense []byte
	// sparse is sorted by index, one entry per index with its highest
	// rank; tmp collects new entries unsorted.
	sparse []uint32
	tmp    []uint32
	// coarse is how many bits below sparsePrecision the sparse entries'
	// index has: 0 (25 bits) unless the sketch was decoded from a compact
	// encoding (see AppendBinary), which may keep as few as Precision.
	coarse uint8
}

// sp is the precision of the sparse entries' index.
func (h *HLL) sp() uint8 { return sparsePrecision - h.coarse }

// New returns an empty sketch.
func New() *HLL { return &HLL{} }

// Add records a hash. Hashes must be uniformly distributed (xxHash is):
// the top bits choose the register, the rest give the rank.
func (h *HLL) Add(hash uint64) {
	if h.dense != nil {
		h.addDense(uint32(hash>>(64-Precision)), rank(hash))
		return
	}
	h.tmp = append(h.tmp, sparseEntry(hash, h.sp()))
	if len(h.tmp) >= tmpMax {
		h.flush()
	}
}

// rank is the dense register value of a hash: one plus the number of
// leading zeros after the index bits. The sentinel bit caps it at 51.
func rank(hash uint64) uint8 {
	return uint8(bits.LeadingZeros64(hash<<Precision|1<<(Precision-1))) + 1
}

// sparseEntry packs the hash's q-bit index (q is 25 unless the sketch was
// coarsened) and its rank (at most 64−q+1, so 51) into 31 bits:
// index<<6 | rank. Sorting entries sorts by index, then rank.
func sparseEntry(hash uint64, q uint8) uint32 {
	idx := uint32(hash >> (64 - q))
	r := uint32(bits.LeadingZeros64(hash<<q|1<<(q-1))) + 1
	return idx<<6 | r
}

// reduce converts an entry at index precision from into the entry the
// same hash would have made at the coarser precision to: the index bits
// dropped are the first bits the new rank counts.
func reduce(e uint32, from, to uint8) uint32 {
	d := from - to
	if d == 0 {
		return e
	}
	idx := e >> 6
	low := idx & (1<<d - 1)
	r := uint32(d) + e&63
	if low != 0 {
		r = uint32(bits.LeadingZeros32(low<<(32-d))) + 1
	}
	return (idx>>d)<<6 | r
}

// reduceAll reduces sorted entries, keeping per new index the highest
// rank: the result is sorted too (indexes stay in order when cut).
func reduceAll(entries []uint32, from, to uint8) []uint32 {
	out := make([]uint32, 0, len(entries))
	for _, e := range entries {
		e = reduce(e, from, to)
		if n := len(out); n > 0 && out[n-1]>>6 == e>>6 {
			out[n-1] = max(out[n-1], e)
			continue
		}
		out = append(out, e)
	}
	return out
}

// denseOf converts a sparse entry at index precision q into the register
// and rank the same hash would have set in the dense form.
func denseOf(e uint32, q uint8) (idx uint32, r uint8) {
	d := reduce(e, q, Precision)
	return d >> 6, uint8(d & 63)
}

func (h *HLL) addDense(idx uint32, r uint8) {
	d := (*[Registers]byte)(h.dense)
	idx &= Registers - 1
	if d[idx] < r {
		d[idx] = r
	}
}

// register returns register idx of a dense sketch.
func (h *HLL) register(idx uint32) uint8 { return h.dense[idx] }

// newDense returns zeroed registers.
func newDense() []byte { return make([]byte, Registers) }

// flush merges tmp into the sorted list and turns the sketch dense once
// the list is too long to pay.
func (h *HLL) flush() {
	if len(h.tmp) == 0 {
		return
	}
	slices.Sort(h.tmp)
	h.sparse = mergeSparse(h.sparse, h.tmp)
	h.tmp = h.tmp[:0]
	if len(h.sparse) > sparseMax {
		h.toDense()
	}
}

// mergeSparse merges two sorted entry lists into a new one that keeps,
// per index, the highest rank.
func mergeSparse(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var e uint32
		if j == len(b) || (i < len(a) && a[i] <= b[j]) {
			e, i = a[i], i+1
		} else {
			e, j = b[j], j+1
		}
		// Entries of one index sort by rank, so the last one is the
		// highest: replace the previous entry of the same index.
		if n := len(out); n > 0 && out[n-1]>>6 == e>>6 {
			out[n-1] = e
			continue
		}
		out = append(out, e)
	}
	return out
}

func (h *HLL) toDense() {
	h.dense = newDense()
	q := h.sp()
	for _, e := range h.sparse {
		h.addDense(denseOf(e, q))
	}
	for _, e := range h.tmp {
		h.addDense(denseOf(e, q))
	}
	h.sparse, h.tmp, h.coarse = nil, nil, 0
}

// Sparse reports whether the sketch is still in its sparse form.
func (h *HLL) Sparse() bool { return h.dense == nil }

// Count estimates the number of distinct hashes added. It may reorganise
// the sparse form (so it is not a read for concurrency purposes).
func (h *HLL) Count() uint64 {
	if h.dense == nil {
		h.flush()
		if h.dense == nil {
			// Linear counting over 2^25 buckets: below 3,072 entries the
			// chance two hashes share a bucket is under 0.02 %. (A
			// coarsened sketch counts over 2^q: at q = 14, 0.6 % error.)
			n := float64(len(h.sparse))
			m := float64(uint64(1) << h.sp())
			return uint64(math.Round(m * math.Log(m/(m-n))))
		}
	}
	sum, zeros := h.sums()
	return uint64(math.Round(loglogBeta(sum, zeros)))
}

// pow2neg[r] = 2^-r.
var pow2neg = func() (t [64]float64) {
	for r := range t {
		t[r] = math.Ldexp(1, -r)
	}
	return
}()

// sums returns Σ 2^-register and the number of zero registers, through
// a histogram of register values: integer increments instead of 16,384
// dependent floating-point additions.
func (h *HLL) sums() (sum float64, zeros int) {
	var hist [64]uint32
	for _, r := range (*[Registers]byte)(h.dense) {
		hist[r&63]++
	}
	for r, n := range hist {
		sum += float64(n) * pow2neg[r]
	}
	return sum, int(hist[0])
}

// loglogBeta is the LogLog-Beta estimator (Qin, Kim, Tung 2016): the raw
// HyperLogLog estimate with a bias term β(zeros) in the denominator, a
// polynomial in ln(zeros+1) fitted for p = 14. It needs no switch to
// linear counting and no bias table, and is unbiased from empty to far
// past m.
func loglogBeta(sum float64, zeros int) float64 {
	const m = float64(Registers)
	alpha := 0.7213 / (1 + 1.079/m)
	ez := float64(zeros)
	zl := math.Log(ez + 1)
	zl2 := zl * zl
	zl4 := zl2 * zl2
	beta := -0.370393911*ez + 0.070471823*zl + 0.17393686*zl2 + 0.16339839*zl2*zl -
		0.09237745*zl4 + 0.03738027*zl4*zl - 0.005384159*zl4*zl2 + 0.00042419*zl4*zl2*zl
	return alpha * m * (m - ez) / (beta + sum)
}

// Merge adds every hash o has seen to h: afterwards h counts the union.
// o is not changed (its sparse buffer may be sorted in).
func (h *HLL) Merge(o *HLL) {
	if o.dense == nil {
		o.flush()
	}
	switch {
	case o.dense == nil && h.dense == nil:
		h.flush()
		os := o.sparse
		// Different index precisions meet at the coarser one.
		switch {
		case o.coarse > h.coarse:
			h.sparse = reduceAll(h.sparse, h.sp(), o.sp())
			h.coarse = o.coarse
		case o.coarse < h.coarse:
			os = reduceAll(os, o.sp(), h.sp())
		}
		h.sparse = mergeSparse(h.sparse, os)
		if len(h.sparse) > sparseMax {
			h.toDense()
		}
	case o.dense == nil:
		q := o.sp()
		for _, e := range o.sparse {
			h.addDense(denseOf(e, q))
		}
	default:
		if h.dense == nil {
			h.toDense()
		}
		maxRegisters(h.dense, o.dense)
	}
}

// maxRegisters sets each register of dst to the larger of dst's and
// src's, eight registers (one word) at a time, four words per step.
// Registers hold at most 63, so the top bit of every byte is free: set
// there as a guard, a byte-wise subtraction a−b keeps it exactly where
// a ≥ b and never borrows from the next byte (SIMD within a register).
func maxRegisters(dst, src []byte) {
	d, s := (*[Registers]byte)(dst), (*[Registers]byte)(src)
	for i := 0; i < Registers; i += 32 {
		dw, sw := (*[32]byte)(d[i:i+32]), (*[32]byte)(s[i:i+32])
		a0, a1 := binary.LittleEndian.Uint64(dw[0:]), binary.LittleEndian.Uint64(dw[8:])
		a2, a3 := binary.LittleEndian.Uint64(dw[16:]), binary.LittleEndian.Uint64(dw[24:])
		b0, b1 := binary.LittleEndian.Uint64(sw[0:]), binary.LittleEndian.Uint64(sw[8:])
		b2, b3 := binary.LittleEndian.Uint64(sw[16:]), binary.LittleEndian.Uint64(sw[24:])
		binary.LittleEndian.PutUint64(dw[0:], byteMax(a0, b0))
		binary.LittleEndian.PutUint64(dw[8:], byteMax(a1, b1))
		binary.LittleEndian.PutUint64(dw[16:], byteMax(a2, b2))
		binary.LittleEndian.PutUint64(dw[24:], byteMax(a3, b3))
	}
}

// byteMax is the byte-wise maximum of two words of bytes below 128.
func byteMax(a, b uint64) uint64 {
	const guard = 0x8080808080808080
	ge := ((a | guard) - b) & guard // guard bit kept where a ≥ b
	m := ge - ge>>7                 // 0x7f in the bytes where a ≥ b
	return a&m | b&^m
}

// packRegisters appends the registers packed six bits each, register j
// at bits [6j, 6j+6) of the little-endian bit stream: four registers in
// three bytes.
func packRegisters(b, dense []byte) []byte {
	for i := 0; i < Registers; i += 4 {
		r := dense[i : i+4 : i+4]
		w := uint32(r[0]) | uint32(r[1])<<6 | uint32(r[2])<<12 | uint32(r[3])<<18
		b = append(b, byte(w), byte(w>>8), byte(w>>16))
	}
	return b
}

// unpackRegisters is packRegisters' inverse: p is DenseBytes long.
func unpackRegisters(p []byte) []byte {
	dense := newDense()
	for i, j := 0, 0; i < Registers; i, j = i+4, j+3 {
		q := p[j : j+3 : j+3]
		w := uint32(q[0]) | uint32(q[1])<<8 | uint32(q[2])<<16
		r := dense[i : i+4 : i+4]
		r[0], r[1], r[2], r[3] = byte(w&63), byte(w>>6&63), byte(w>>12&63), byte(w>>18)
	}
	return dense
}

// Clone returns an independent copy.
func (h *HLL) Clone() *HLL {
	c := &HLL{coarse: h.coarse}
	if h.dense != nil {
		c.dense = slices.Clone(h.dense)
		return c
	}
	c.sparse = slices.Clone(h.sparse)
	c.tmp = slices.Clone(h.tmp)
	return c
}

// Reset empties the sketch, back to the sparse form.
func (h *HLL) Reset() { *h = HLL{} }

// SizeBytes is the memory the sketch's data takes (registers or entries).
func (h *HLL) SizeBytes() int {
	if h.dense != nil {
		return cap(h.dense)
	}
	return 4 * (cap(h.sparse) + cap(h.tmp))
}
