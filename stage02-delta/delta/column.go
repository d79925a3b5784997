package delta

import "fmt"

// Codec names how a column's unsigned integers are written.
type Codec uint8

// The two integer codecs. Each column stores the one that comes out smaller:
// Simple-8b wins on long runs of tiny integers (regular timestamps, flat
// gauges), varint when widths vary a lot within a few values, because
// Simple-8b must give every value of a word the width of the widest.
const (
	Varint   Codec = 0 // LEB128, varint.go
	Simple8b Codec = 1 // Simple-8b words, simple8b.go
	// Planes is written only on request (Layout BytePlanes): fixed-width
	// bytes in planes, for a general-purpose compressor after (planes.go).
	Planes Codec = 2
)

func (c Codec) String() string {
	switch c {
	case Varint:
		return "varint"
	case Simple8b:
		return "simple8b"
	case Planes:
		return "planes"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// appendInts appends one integer column: codec byte, uvarint body length,
// body. It prices both codecs and keeps the smaller (Simple-8b on a tie: it
// decodes faster). buf is scratch space for the Simple-8b body; the grown
// buffer is returned for reuse.
func appendInts(dst []byte, u []uint64, buf []byte) (out []byte, codec Codec, scratch []byte) {
	return appendIntsLayout(dst, u, buf, Packed)
}

// appendIntsLayout is appendInts with the layout chosen: Packed prices
// varint and Simple-8b, BytePlanes writes byte planes.
func appendIntsLayout(dst []byte, u []uint64, buf []byte, layout Layout) (out []byte, codec Codec, scratch []byte) {
	if layout == BytePlanes {
		buf = appendPlanes(buf[:0], u)
		dst = append(dst, byte(Planes))
		dst = AppendUvarint(dst, uint64(len(buf)))
		return append(dst, buf...), Planes, buf
	}
	vlen := 0
	for _, x := range u {
		vlen += UvarintLen(x)
	}
	buf = AppendSimple8b(buf[:0], u)
	if vlen < len(buf) {
		dst = append(dst, byte(Varint))
		dst = AppendUvarint(dst, uint64(vlen))
		for _, x := range u {
			dst = AppendUvarint(dst, x)
		}
		return dst, Varint, buf
	}
	dst = append(dst, byte(Simple8b))
	dst = AppendUvarint(dst, uint64(len(buf)))
	return append(dst, buf...), Simple8b, buf
}

// readInts decodes one integer column written by appendInts into dst (all
// len(dst) values) and returns the bytes after it. The decoders write int64
// as well as uint64 so that a caller can decode into the []int64 it returns
// and transform the codes in place, without a scratch column.
func readInts[T uint64 | int64](dst []T, src []byte) (rest []byte, err error) {
	if len(src) < 1 {
		return nil, fmt.Errorf("%w: missing codec byte", ErrCorrupt)
	}
	codec := Codec(src[0])
	size, k, err := Uvarint(src[1:])
	if err != nil {
		return nil, fmt.Errorf("column length: %w", err)
	}
	src = src[1+k:]
	if size > uint64(len(src)) {
		return nil, fmt.Errorf("%w: column of %d bytes, only %d left", ErrCorrupt, size, len(src))
	}
	body, rest := src[:size], src[size:]
	switch codec {
	case Varint:
		err = decodeUvarints(dst, body)
	case Simple8b:
		err = decodeSimple8b(dst, body)
	case Planes:
		err = decodePlanes(dst, body)
	default:
		err = fmt.Errorf("%w: unknown codec %d", ErrCorrupt, codec)
	}
	return rest, err
}

// decodeUvarints fills dst from consecutive LEB128 values that must use up
// src exactly. The one-byte case (most deltas) skips the general decoder.
func decodeUvarints[T uint64 | int64](dst []T, src []byte) error {
	off := 0
	for i := range dst {
		if off < len(src) && src[off] < 0x80 {
			dst[i] = T(src[off])
			off++
			continue
		}
		v, k, err := Uvarint(src[off:])
		if err != nil {
			return fmt.Errorf("varint %d of %d: %w", i, len(dst), err)
		}
		dst[i] = T(v)
		off += k
	}
	if off != len(src) {
		return fmt.Errorf("%w: %d trailing bytes after %d varints", ErrCorrupt, len(src)-off, len(dst))
	}
	return nil
}

// skipInts returns the bytes after one integer column without decoding it.
func skipInts(src []byte) (rest []byte, err error) {
	if len(src) < 1 {
		return nil, fmt.Errorf("%w: missing codec byte", ErrCorrupt)
	}
	size, k, err := Uvarint(src[1:])
	if err != nil {
		return nil, fmt.Errorf("column length: %w", err)
	}
	src = src[1+k:]
	if size > uint64(len(src)) {
		return nil, fmt.Errorf("%w: column of %d bytes, only %d left", ErrCorrupt, size, len(src))
	}
	return src[size:], nil
}
