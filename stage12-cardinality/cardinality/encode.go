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
//	byte 3       form: 0 sparse, 1 dense
//	sparse:      uvarint n, byte k, then a bit stream (most significant
//	             bit of each byte first) of the n entries in index order:
//	             the gap to the previous 25-bit index (the first: the
//	             index itself; the others: the gap minus one) Rice-coded
//	             with parameter k — gap>>k in unary (that many 1s, a 0),
//	             then its k low bits — then rank−1 in unary; zero bits pad
//	             the last byte. k = ⌊log2(2^25/(n+1))⌋, the gaps' scale.
//	dense:       12,288 bytes: register j in bits [6j, 6j+6)
//	last 4 bytes CRC-32C (Castagnoli) of every byte before it
//
// A decoder refuses anything else: another version or precision, a bad
// checksum, entries out of order or with an impossible rank, registers
// above 51, trailing bytes.
const (
	encMagic   = 'H'
	encVersion = 1
	formSparse = 0
	formDense  = 1
	encHeader  = 4
	encCRC     = 4
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
// Precision; maxSparseRank the largest sparse rank.
const (
	maxRank       = 64 - Precision + 1
	maxSparseRank = 64 - sparsePrecision + 1
)

// AppendBinary appends the encoding of h to b.
func (h *HLL) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	if h.dense == nil {
		h.flush()
	}
	if h.dense != nil {
		b = append(b, encMagic, encVersion, Precision, formDense)
		b = packRegisters(b, h.dense)
	} else {
		b = append(b, encMagic, encVersion, Precision, formSparse)
		b = binary.AppendUvarint(b, uint64(len(h.sparse)))
		k := riceParam(len(h.sparse))
		b = append(b, k)
		w := bitWriter{b: b}
		prev := uint32(0)
		for i, e := range h.sparse {
			gap := e>>6 - prev
			if i > 0 {
				gap--
			}
			prev = e >> 6
			w.ones(int(gap >> k))
			w.bits(uint64(gap), int(k))
			w.ones(int(e&63) - 1)
		}
		b = w.flush()
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
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
	case formSparse:
		n, k := binary.Uvarint(p)
		if k <= 0 || n > sparseMax || len(p) < k+1 {
			return fmt.Errorf("%w: sparse entry count", ErrCorrupt)
		}
		param := p[k]
		if param != riceParam(int(n)) {
			return fmt.Errorf("%w: Rice parameter %d for %d entries", ErrCorrupt, param, n)
		}
		r := bitReader{b: p[k+1:]}
		entries := make([]uint32, 0, n)
		prev := uint64(0)
		for i := range n {
			gap := r.unary(sparseBuckets)<<param | r.bits(int(param))
			if i > 0 {
				gap += prev + 1
			}
			rank := r.unary(maxSparseRank) + 1
			if r.err || gap >= sparseBuckets || rank > maxSparseRank {
				return fmt.Errorf("%w: sparse entry %d truncated or out of range", ErrCorrupt, i)
			}
			entries = append(entries, uint32(gap<<6|rank))
			prev = gap
		}
		if !r.done() {
			return fmt.Errorf("%w: trailing bits after the sparse entries", ErrCorrupt)
		}
		*h = HLL{sparse: entries}
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
// random 25-bit indexes are about 2^25/(n+1) (geometric), and coding
// gap>>k in unary costs about two bits when 2^k is near that scale.
func riceParam(n int) uint8 {
	return uint8(bits.Len64(uint64(sparseBuckets/(n+1))) - 1)
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
