// Package chunks stores chunks on disk (stage03's Gorilla chunks, and its
// histogram chunks behind a marker byte: encoding.go), in the two kinds of
// file a Prometheus-style TSDB has:
//
//   - segment.go: a block's chunks/000001… segment files, written once by the
//     block writer and read through mmap;
//   - headchunks.go: the head's chunks_head/ files, where a head chunk goes
//     the moment it is full, so that head memory holds only open chunks.
//
// A chunk is addressed by a Ref: the file number in the upper 32 bits and
// the byte offset of the chunk's entry in the lower 32, so a reader goes from
// a reference to the bytes with one slice of one mapping.
package chunks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrCorrupt wraps every error about malformed chunk data.
var ErrCorrupt = errors.New("chunks: corrupt")

// castagnoli is the CRC-32C table; CPUs compute it in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Ref locates a chunk: encoding << 62 | file number << 32 | offset of its
// entry (encoding.go).
type Ref uint64

// NewRef builds a reference.
func NewRef(file int, offset int) Ref { return Ref(uint64(file)<<32 | uint64(uint32(offset))) }

// File is the file number of the reference (its top two bits are the
// chunk's Encoding, not part of the number).
func (r Ref) File() int { return int(r>>32) & refFileMask }

// Offset is the byte offset of the entry in its file.
func (r Ref) Offset() int { return int(uint32(r)) }

// Meta describes one chunk of a series: where it is and which time range
// it covers (both ends inclusive), so a query skips chunks outside its
// range without reading them.
type Meta struct {
	Ref        Ref
	MinT, MaxT int64
}

// Overlaps reports whether the chunk has samples possibly in [mint, maxt].
func (m Meta) Overlaps(mint, maxt int64) bool { return m.MinT <= maxt && m.MaxT >= mint }

// AppendMetas encodes the chunk list of one series: the payload the block
// index stores with each series. Metas must be sorted by MinT.
//
//	uvarint  number of chunks
//	chunk 0  varint MinT | uvarint MaxT-MinT | uvarint Ref
//	chunk i  varint MinT-prev.MaxT | varint (MaxT-MinT)-(prev.MaxT-prev.MinT) | varint Ref-prev.Ref
//
// Consecutive chunks of a series sit side by side in time and in the
// segment file, and regular scrapes give full chunks the same span, so
// the deltas take one or two bytes each.
func AppendMetas(dst []byte, ms []Meta) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ms)))
	for i, m := range ms {
		if i == 0 {
			dst = binary.AppendVarint(dst, m.MinT)
			dst = binary.AppendUvarint(dst, uint64(m.MaxT-m.MinT))
			dst = binary.AppendUvarint(dst, uint64(m.Ref))
			continue
		}
		p := ms[i-1]
		dst = binary.AppendVarint(dst, m.MinT-p.MaxT)
		dst = binary.AppendVarint(dst, (m.MaxT-m.MinT)-(p.MaxT-p.MinT))
		dst = binary.AppendVarint(dst, int64(m.Ref-p.Ref))
	}
	return dst
}

// DecodeMetas decodes what AppendMetas wrote, appending to dst[:0].
func DecodeMetas(b []byte, dst []Meta) ([]Meta, error) {
	dst = dst[:0]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return dst, fmt.Errorf("%w: chunk list count", ErrCorrupt)
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		var m Meta
		a, k1 := binary.Varint(b)
		if k1 <= 0 {
			return dst, fmt.Errorf("%w: chunk %d mint", ErrCorrupt, i)
		}
		b = b[k1:]
		var d uint64 // MaxT-MinT
		if i == 0 {
			w, k2 := binary.Uvarint(b)
			if k2 <= 0 || w > 1<<62 {
				return dst, fmt.Errorf("%w: chunk %d maxt", ErrCorrupt, i)
			}
			d, b = w, b[k2:]
		} else {
			p := dst[len(dst)-1]
			dw, k2 := binary.Varint(b)
			w := p.MaxT - p.MinT + dw
			if k2 <= 0 || dw < -1<<62 || dw > 1<<62 || w < 0 || w > 1<<62 {
				return dst, fmt.Errorf("%w: chunk %d maxt", ErrCorrupt, i)
			}
			d, b = uint64(w), b[k2:]
		}
		if i == 0 {
			r, k3 := binary.Uvarint(b)
			if k3 <= 0 {
				return dst, fmt.Errorf("%w: chunk %d ref", ErrCorrupt, i)
			}
			b = b[k3:]
			m = Meta{Ref: Ref(r), MinT: a, MaxT: a + int64(d)}
		} else {
			r, k3 := binary.Varint(b)
			if k3 <= 0 {
				return dst, fmt.Errorf("%w: chunk %d ref", ErrCorrupt, i)
			}
			b = b[k3:]
			p := dst[len(dst)-1]
			m.MinT = p.MaxT + a
			m.MaxT = m.MinT + int64(d)
			m.Ref = p.Ref + Ref(r)
			if m.MinT < p.MinT {
				return dst, fmt.Errorf("%w: chunk %d out of order", ErrCorrupt, i)
			}
		}
		dst = append(dst, m)
	}
	if len(b) != 0 {
		return dst, fmt.Errorf("%w: %d trailing bytes after chunk list", ErrCorrupt, len(b))
	}
	return dst, nil
}
