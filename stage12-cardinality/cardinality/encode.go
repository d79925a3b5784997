package cardinality

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The HLL's binary form, version 1 (all integers little-endian):
//
//	byte 0       'H'
//	byte 1       version (1)
//	byte 2       precision (14)
//	byte 3       form: 0 sparse, 1 dense
//	sparse:      uvarint n, then n uvarints: the sorted entries
//	             (index25<<6 | rank) as deltas, the first from 0
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
		b = append(b, h.dense[:DenseBytes]...)
	} else {
		b = append(b, encMagic, encVersion, Precision, formSparse)
		b = binary.AppendUvarint(b, uint64(len(h.sparse)))
		prev := uint32(0)
		for _, e := range h.sparse {
			b = binary.AppendUvarint(b, uint64(e-prev))
			prev = e
		}
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
		dense := make([]byte, DenseBytes+denseTail)
		copy(dense, p)
		d := HLL{dense: dense}
		for j := range uint32(Registers) {
			if r := d.register(j); r > maxRank {
				return fmt.Errorf("%w: register %d is %d, above %d", ErrCorrupt, j, r, maxRank)
			}
		}
		*h = d
		return nil
	case formSparse:
		n, k := binary.Uvarint(p)
		if k <= 0 || n > sparseMax {
			return fmt.Errorf("%w: sparse entry count", ErrCorrupt)
		}
		p = p[k:]
		entries := make([]uint32, 0, n)
		prev := uint64(0)
		for i := range n {
			d, k := binary.Uvarint(p)
			if k <= 0 {
				return fmt.Errorf("%w: sparse entry %d truncated", ErrCorrupt, i)
			}
			p = p[k:]
			e := prev + d
			// Strictly increasing indexes (one entry each), ranks 1..40.
			if (i > 0 && e>>6 <= prev>>6) || e>>6 >= sparseBuckets || e&63 == 0 || e&63 > maxSparseRank {
				return fmt.Errorf("%w: sparse entry %d (%#x) out of order or out of range", ErrCorrupt, i, e)
			}
			entries = append(entries, uint32(e))
			prev = e
		}
		if len(p) != 0 {
			return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(p))
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
