package tsm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/golang/snappy"
	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// MaxPointsPerBlock is the most values one block holds, as in InfluxDB: big
// enough that the per-block costs (CRC, header, first timestamp and value,
// index entry) are a small share, small enough that reading one hour of
// one key decodes little more than that hour.
const MaxPointsPerBlock = 1000

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxStringColumn bounds the decoded string column of one block (1,000
// strings of 64 KiB, InfluxDB's limit for a string field).
const maxStringColumn = MaxPointsPerBlock << 16

// A block, byte by byte (integers little-endian, uvarint = LEB128):
//
//	0     4  CRC-32C of bytes 4…end
//	4     1  type (FloatType … StringType)
//	5     …  uvarint n, the number of values (1 … MaxPointsPerBlock)
//	then              uvarint len(ts) | timestamp column | value column
//
// The timestamp column is stage02's: the first timestamp as 8 bytes, then
// zig-zag delta-of-deltas packed with Simple-8b or varints. Value columns:
//
//	FloatType     stage03's values-only Gorilla XOR stream: v0 as 64 bits,
//	              then each value's XOR with the previous one ('0' | '10' …
//	              | '11' …), zero-padded to a byte
//	IntegerType   uvarint zigzag(v0), then Simple-8b of zigzag(v[i]-v[i-1])
//	UnsignedType  the same on the two's-complement differences
//	BooleanType   ⌈n/8⌉ bytes, value i is bit i%8 of byte i/8
//	StringType    snappy block of (uvarint len | bytes) per value
//
// Why a CRC per block: a reader checks only the blocks a query touches, and
// a damaged block is reported (ErrCorrupt) instead of decoded into nonsense.

// appendBlock appends the block encoding of v (1 … MaxPointsPerBlock values,
// sorted by time) to dst.
func appendBlock(dst []byte, v *Values) ([]byte, error) {
	n := v.Len()
	if n == 0 || n > MaxPointsPerBlock {
		return dst, fmt.Errorf("tsm: block of %d values (want 1…%d)", n, MaxPointsPerBlock)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(v.Type))
	dst = binary.AppendUvarint(dst, uint64(n))
	if !v.Type.valid() {
		return dst[:start], fmt.Errorf("tsm: block of unknown type %d", v.Type)
	}
	ts := delta.AppendTimestamps(nil, v.T)
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	dst = append(dst, ts...)
	dst = appendValueColumn(dst, v)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst, nil
}

func appendValueColumn(dst []byte, v *Values) []byte {
	switch v.Type {
	case FloatType:
		fs := make([]float64, len(v.V))
		for i, b := range v.V {
			fs[i] = math.Float64frombits(b)
		}
		return gorilla.AppendXORValues(dst, fs)
	case IntegerType, UnsignedType:
		dst = binary.AppendUvarint(dst, delta.ZigZag(int64(v.V[0])))
		d := make([]uint64, len(v.V)-1)
		for i := 1; i < len(v.V); i++ {
			// Wrapping subtraction: for unsigned values the difference is
			// taken modulo 2^64, which zig-zag and the decoder's wrapping
			// addition undo exactly.
			d[i-1] = delta.ZigZag(int64(v.V[i] - v.V[i-1]))
		}
		return delta.AppendSimple8b(dst, d)
	case BooleanType:
		bits := make([]byte, (len(v.V)+7)/8)
		for i, b := range v.V {
			if b != 0 {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		return append(dst, bits...)
	default: // StringType
		var raw []byte
		for _, s := range v.S {
			raw = binary.AppendUvarint(raw, uint64(len(s)))
			raw = append(raw, s...)
		}
		return append(dst, snappy.Encode(nil, raw)...)
	}
}

// BlockType returns the type byte and value count of a block after checking
// its CRC.
func BlockType(b []byte) (Type, int, error) {
	if len(b) < 6 {
		return 0, 0, fmt.Errorf("%w: block of %d bytes", ErrCorrupt, len(b))
	}
	if got, want := crc32.Checksum(b[4:], castagnoli), binary.LittleEndian.Uint32(b); got != want {
		return 0, 0, fmt.Errorf("%w: block checksum %08x, stored %08x", ErrCorrupt, got, want)
	}
	t := Type(b[4])
	if !t.valid() {
		return 0, 0, fmt.Errorf("%w: block type %d", ErrCorrupt, b[4])
	}
	n, k := binary.Uvarint(b[5:])
	if k <= 0 || n == 0 || n > MaxPointsPerBlock {
		return 0, 0, fmt.Errorf("%w: block count", ErrCorrupt)
	}
	return t, int(n), nil
}

// decodeBlock decodes block b, appending its values to dst (which must be
// empty or of the block's type). Every error wraps ErrCorrupt; nothing
// panics on damaged input.
func decodeBlock(b []byte, dst *Values) error {
	t, n, err := BlockType(b)
	if err != nil {
		return err
	}
	if dst.Len() > 0 && dst.Type != t {
		return fmt.Errorf("%w: block of type %v, want %v", ErrCorrupt, t, dst.Type)
	}
	dst.Type = t
	_, k := binary.Uvarint(b[5:])
	body := b[5+k:]
	tl, k := binary.Uvarint(body)
	if k <= 0 || tl > uint64(len(body)-k) {
		return fmt.Errorf("%w: timestamp column length", ErrCorrupt)
	}
	tcol, vcol := body[k:k+int(tl)], body[k+int(tl):]
	base := len(dst.T)
	dst.T = append(dst.T, make([]int64, n)...)
	rest, err := delta.DecodeTimestamps(dst.T[base:], tcol)
	if err != nil || len(rest) != 0 {
		dst.T = dst.T[:base]
		return fmt.Errorf("%w: timestamps: %v (%d bytes left)", ErrCorrupt, err, len(rest))
	}
	if err := decodeValueColumn(t, n, vcol, dst); err != nil {
		dst.T = dst.T[:base]
		return err
	}
	return nil
}

func decodeValueColumn(t Type, n int, col []byte, dst *Values) error {
	switch t {
	case FloatType:
		v, err := gorilla.DecodeXORBits(dst.V, col, n)
		if err != nil {
			return fmt.Errorf("%w: float values: %v", ErrCorrupt, err)
		}
		dst.V = v
	case IntegerType, UnsignedType:
		v0, k := binary.Uvarint(col)
		if k <= 0 {
			return fmt.Errorf("%w: first integer", ErrCorrupt)
		}
		// The deltas are decoded in place, behind the first value, and
		// summed up there: no scratch slice per block.
		base := len(dst.V)
		dst.V = append(dst.V, make([]uint64, n)...)
		out := dst.V[base:]
		if err := delta.DecodeSimple8b(out[1:], col[k:]); err != nil {
			dst.V = dst.V[:base]
			return fmt.Errorf("%w: integer deltas: %v", ErrCorrupt, err)
		}
		prev := uint64(delta.UnZigZag(v0))
		out[0] = prev
		for i, z := range out[1:] {
			prev += uint64(delta.UnZigZag(z))
			out[i+1] = prev
		}
	case BooleanType:
		if len(col) != (n+7)/8 {
			return fmt.Errorf("%w: boolean column of %d bytes for %d values", ErrCorrupt, len(col), n)
		}
		for i := range n {
			dst.V = append(dst.V, uint64(col[i/8]>>(i%8)&1))
		}
	case StringType:
		// Bound the claimed decoded length before snappy allocates it: a
		// damaged length field must not ask for gigabytes.
		if l, err := snappy.DecodedLen(col); err != nil || l > maxStringColumn {
			return fmt.Errorf("%w: string column length", ErrCorrupt)
		}
		raw, err := snappy.Decode(nil, col)
		if err != nil {
			return fmt.Errorf("%w: string column: %v", ErrCorrupt, err)
		}
		for range n {
			l, k := binary.Uvarint(raw)
			if k <= 0 || l > uint64(len(raw)-k) {
				return fmt.Errorf("%w: string length", ErrCorrupt)
			}
			dst.S = append(dst.S, string(raw[k:k+int(l)]))
			raw = raw[k+int(l):]
		}
		if len(raw) != 0 {
			return fmt.Errorf("%w: %d bytes after the strings", ErrCorrupt, len(raw))
		}
	}
	return nil
}
