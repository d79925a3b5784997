package cardinality

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
)

// The HLL's binary form, version 1 (all integers little-endian):
//
//	byte 0       'H'
//	byte 1       version (1)
//	byte 2       precision (14)
//	byte 3       form: 0 sparse, 1 dense, 2 compact sparse
//	sparse:      uvarint n, byte k, then a bit stream (most significant
//	             bit of each byte first) of the n entries in index order:
//	             the gap to the previous q-bit index (the first: the
//	             index itself; the others: the gap minus one) Rice-coded
//	             with parameter k — gap>>k in unary (that many 1s, a 0),
//	             then its k low bits — then rank−1 in unary; zero bits pad
//	             the last byte. q = 25; k = ⌊log2(2^q/(n+1))⌋, the gaps'
//	             scale.
//	compact:     byte q (14 … 24), then as sparse, at index precision q
//	dense:       12,288 bytes: register j in bits [6j, 6j+6)
//	last 4 bytes CRC-32C (Castagnoli) of every byte before it
//
// The sparse list is written at 25 bits of index while that takes at most
// sparseBudget bytes, else at the finest coarser precision that fits (at
// least 14, the dense one): a 25-bit index costs about 16 bits of gap at
// 1,000 entries, the information in where they fall, and only fewer
// index bits make a list that long small. The decoded sketch keeps that
// precision, and counts by linear counting over 2^q buckets: still within
// 0.6 % at q = 14 below the dense form's 3,072 entries, better than the
// dense form's 0.81 %.
//
// A decoder refuses anything else: another version or precision, a bad
// checksum, entries out of order or with an impossible rank, registers
// above 51, trailing bytes.
const (
	encMagic    = 'H'
	encVersion  = 1
	formSparse  = 0
	formDense   = 1
	formCompact = 2

	// sparseBudget is the encoded size (CRC included) the sparse list is
	// coarsened to fit, when it can be.
	sparseBudget = 1024
	encHeader    = 4
	encCRC       = 4
)

// Decoding errors.
var (
	// ErrCorrupt: the bytes are not an HLL this version wrote, or were
	// damaged since.
	ErrCorrupt = errors.New("cardinality: corrupt sketch")
	// ErrVersion: an encoding of another version or precision.
	ErrVersion = errors.New("cardinality: unsupported sketch version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxRank is the largest register value a 64-bit hash gives at
// Precision.
const maxRank = 64 - Precision + 1

// AppendBinary appends the encoding of h to b. A sparse list over the
// budget is written coarser (see the format above).
func (h *HLL) AppendBinary(b []byte) ([]byte, error) { return h.appendBinary(b, true), nil }

// appendBinary appends the encoding of h, a sparse list coarsened to fit
// the budget if compact, else at the sketch's own precision.
func (h *HLL) appendBinary(b []byte, compact bool) []byte {
	start := len(b)
	if h.dense == nil {
		h.flush()
	}
	if h.dense != nil {
		b = append(b, encMagic, encVersion, Precision, formDense)
		b = packRegisters(b, h.dense)
	} else {
		q, entries := h.sp(), h.sparse
		if compact {
			q, entries = h.encodedSparse()
		}
		b = appendSparse(b, q, entries)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// appendSparse appends the header and body of a sparse list of entries
// at index precision q.
func appendSparse(b []byte, q uint8, entries []uint32) []byte {
	if q == sparsePrecision {
		b = append(b, encMagic, encVersion, Precision, formSparse)
	} else {
		b = append(b, encMagic, encVersion, Precision, formCompact, q)
	}
	b = binary.AppendUvarint(b, uint64(len(entries)))
	k := riceParam(len(entries), q)
	b = append(b, k)
	w := bitWriter{b: b}
	prev := uint32(0)
	for i, e := range entries {
		gap := e>>6 - prev
		if i > 0 {
			gap--
		}
		prev = e >> 6
		w.ones(int(gap >> k))
		w.bits(uint64(gap), int(k))
		w.ones(int(e&63) - 1)
	}
	return w.flush()
}

// encodedSparse picks the index precision the sparse list is written at:
// the sketch's own while the encoding fits sparseBudget, else the finest
// coarser one that fits, else Precision. Entries must be flushed.
func (h *HLL) encodedSparse() (uint8, []uint32) {
	q, entries := h.sp(), h.sparse
	for q > Precision && sparseSize(entries, q) > sparseBudget {
		q--
		entries = reduceAll(h.sparse, h.sp(), q)
	}
	return q, entries
}

// sparseSize is the encoded size of a sparse list at index precision q.
func sparseSize(entries []uint32, q uint8) int {
	k := riceParam(len(entries), q)
	nbits := 0
	prev := uint32(0)
	for i, e := range entries {
		gap := e>>6 - prev
		if i > 0 {
			gap--
		}
		prev = e >> 6
		nbits += int(gap>>k) + 1 + int(k) + int(e&63)
	}
	size := encHeader + len(binary.AppendUvarint(nil, uint64(len(entries)))) + 1 + (nbits+7)/8 + encCRC
	if q != sparsePrecision {
		size++ // the precision byte
	}
	return size
}

// MarshalBinary encodes h (encoding.BinaryMarshaler).
func (h *HLL) MarshalBinary() ([]byte, error) { return h.AppendBinary(nil) }

// UnmarshalBinary replaces h with the sketch encoded in b. On error h is
// unchanged.
func (h *HLL) UnmarshalBinary(b []byte) error {
	if len(b) < encHeader+encCRC {
		return fmt.Errorf("%w: %d bytes, shorter than header and checksum", ErrCorrupt, len(b))
	}
	body, sum := b[:len(b)-encCRC], binary.LittleEndian.Uint32(b[len(b)-encCRC:])
	if body[0] != encMagic {
		return fmt.Errorf("%w: magic %#x", ErrCorrupt, body[0])
	}
	if body[1] != encVersion || body[2] != Precision {
		return fmt.Errorf("%w: version %d precision %d (want %d, %d)", ErrVersion, body[1], body[2], encVersion, Precision)
	}
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fmt.Errorf("%w: checksum %08x, stored %08x", ErrCorrupt, got, sum)
	}
	p := body[encHeader:]
	switch body[3] {
	case formDense:
		if len(p) != DenseBytes {
			return fmt.Errorf("%w: dense registers are %d bytes, want %d", ErrCorrupt, len(p), DenseBytes)
		}
		d := HLL{dense: unpackRegisters(p)}
		for j := range uint32(Registers) {
			if r := d.register(j); r > maxRank {
				return fmt.Errorf("%w: register %d is %d, above %d", ErrCorrupt, j, r, maxRank)
			}
		}
		*h = d
		return nil
	case formSparse, formCompact:
		q := uint8(sparsePrecision)
		if body[3] == formCompact {
			if len(p) < 1 || p[0] < Precision || p[0] >= sparsePrecision {
				return fmt.Errorf("%w: compact sparse precision", ErrCorrupt)
			}
			q, p = p[0], p[1:]
		}
		n, k := binary.Uvarint(p)
		if k <= 0 || n > sparseMax || len(p) < k+1 {
			return fmt.Errorf("%w: sparse entry count", ErrCorrupt)
		}
		param := p[k]
		if param != riceParam(int(n), q) {
			return fmt.Errorf("%w: Rice parameter %d for %d entries", ErrCorrupt, param, n)
		}
		buckets, maxRank := uint64(1)<<q, uint64(64-q+1)
		r := bitReader{b: p[k+1:]}
		entries := make([]uint32, 0, n)
		prev := uint64(0)
		for i := range n {
			gap := r.unary(buckets)<<param | r.bits(int(param))
			if i > 0 {
				gap += prev + 1
			}
			rank := r.unary(maxRank) + 1
			if r.err || gap >= buckets || rank > maxRank {
				return fmt.Errorf("%w: sparse entry %d truncated or out of range", ErrCorrupt, i)
			}
			entries = append(entries, uint32(gap<<6|rank))
			prev = gap
		}
		if !r.done() {
			return fmt.Errorf("%w: trailing bits after the sparse entries", ErrCorrupt)
		}
		*h = HLL{sparse: entries, coarse: sparsePrecision - q}
		return nil
	default:
		return fmt.Errorf("%w: form %d", ErrCorrupt, body[3])
	}
}

// Decode returns the sketch encoded in b.
func Decode(b []byte) (*HLL, error) {
	h := &HLL{}
	if err := h.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return h, nil
}

// riceParam is the Rice parameter for n entries: the gaps between n
// random q-bit indexes are about 2^q/(n+1) (geometric), and coding gap>>k
// in unary costs about two bits when 2^k is near that scale.
func riceParam(n int, q uint8) uint8 {
	return uint8(max(bits.Len64(uint64(1)<<q/uint64(n+1)), 1) - 1)
}

// bitWriter appends bits to b, most significant first.
type bitWriter struct {
	b    []byte
	acc  uint64 // pending bits, the oldest highest
	nacc int
}

func (w *bitWriter) bits(v uint64, n int) {
	for n > 0 {
		take := min(n, 56-w.nacc)
		n -= take
		w.acc = w.acc<<take | (v>>n)&(1<<take-1)
		w.nacc += take
		for w.nacc >= 8 {
			w.nacc -= 8
			w.b = append(w.b, byte(w.acc>>w.nacc))
		}
	}
}

// ones writes n 1s and a 0: n in unary.
func (w *bitWriter) ones(n int) {
	for ; n >= 32; n -= 32 {
		w.bits(1<<32-1, 32)
	}
	w.bits((1<<n-1)<<1, n+1)
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.b = append(w.b, byte(w.acc<<(8-w.nacc)))
		w.nacc = 0
	}
	return w.b
}

// bitReader reads what bitWriter wrote; err is set on reading past the end.
type bitReader struct {
	b   []byte
	pos int // in bits
	err bool
}

func (r *bitReader) bit() uint64 {
	if r.pos >= 8*len(r.b) {
		r.err = true
		return 0
	}
	v := r.b[r.pos>>3] >> (7 - r.pos&7) & 1
	r.pos++
	return uint64(v)
}

func (r *bitReader) bits(n int) uint64 {
	var v uint64
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// unary reads 1s up to a 0; more than limit 1s is an error.
func (r *bitReader) unary(limit uint64) uint64 {
	var n uint64
	for r.bit() == 1 {
		if n++; n > limit {
			r.err = true
			return 0
		}
	}
	return n
}

// done reports whether only zero padding, less than a byte, is left.
func (r *bitReader) done() bool {
	if r.err || 8*len(r.b)-r.pos >= 8 {
		return false
	}
	for r.pos < 8*len(r.b) {
		if r.bit() != 0 {
			return false
		}
	}
	return true
}
