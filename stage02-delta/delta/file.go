package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
)

// The compressed file, byte by byte:
//
//	offset  size     field
//	0       4        magic "DLTA"
//	4       1        version, 1
//	5       4        CRC-32C of the original raw point file, little-endian (checksum.go)
//	9       1..10    n, the number of points, uvarint
//	…                timestamp column (timestamps.go), absent when n == 0
//	…                value column (values.go), absent when n == 0
//
// and nothing after the value column. Each column is
//
//	codec   1 byte   0 = varint, 1 = Simple-8b (column.go)
//	length  uvarint  body size in bytes
//	body    length bytes
//
// preceded, for timestamps, by the first timestamp (8 bytes) and, for values,
// by the exponent byte, and followed, for values, by the exception list.

// Magic opens every compressed file.
const Magic = "DLTA"

// Version is the format version this package writes and reads.
const Version = 1

// headerFixed is the size of the header before the point count.
const headerFixed = len(Magic) + 1 + 4

// maxPointsPerByte bounds the point count a file of a given size can claim:
// the densest word, a Simple-8b run of 240 zeros, holds 30 points per byte in
// each column. Checking it before allocating keeps a corrupt count from
// asking for terabytes.
const maxPointsPerByte = 240 / 8

// Compress encodes one series given as two columns of equal length and
// returns the compressed file with the figures of Stats. Any int64 timestamps
// and any float64 values (NaN payloads, ±Inf, -0 included) are accepted and
// come back bit for bit from Decompress. It panics if len(ts) != len(vs),
// which is a programming error, not bad data.
func Compress(ts []int64, vs []float64) ([]byte, Stats) {
	if len(ts) != len(vs) {
		panic("delta.Compress: column lengths differ")
	}
	n := len(ts)
	e := getEncoder(n)
	defer putEncoder(e)

	out := e.work
	out = append(out, Magic...)
	out = append(out, Version)
	out = binary.LittleEndian.AppendUint32(out, checksum(ts, vs, &e.crc))
	out = AppendUvarint(out, uint64(n))
	st := Stats{Points: n, RawBytes: 16 * n, HeaderBytes: len(out)}

	if n > 0 {
		start := len(out)
		out, st.TimestampCodec, e.body = appendTimestamps(out, ts, e.ints, e.body, Packed)
		st.TimestampBytes = len(out) - start

		start = len(out)
		var col valueColumn
		out, col = appendValues(out, vs, e.ints, e.body, Packed)
		st.ValueBytes = len(out) - start
		st.fill(ts, col)
	}
	st.CompressedBytes = len(out)
	e.work = out[:0]
	// The work buffer goes back to the pool; the caller gets an exact-size
	// copy, so keeping many compressed series keeps no spare capacity.
	return bytes.Clone(out), st
}

// encoder is Compress's scratch space: the integers of one column at a time,
// the file being built, a Simple-8b body before it is framed and the
// checksum's buffer. Compress
// borrows one from a pool, so that compressing series after series allocates
// little more than the results (about 1 byte per point instead of 11).
type encoder struct {
	ints []uint64
	work []byte
	body []byte
	crc  crcBuffer
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// maxPooledPoints keeps a one-off giant series from pinning its scratch
// space in the pool.
const maxPooledPoints = 1 << 20

func getEncoder(n int) *encoder {
	e := encoders.Get().(*encoder)
	if cap(e.ints) < n {
		e.ints = make([]uint64, n)
	}
	e.ints = e.ints[:n]
	if cap(e.work) < 64+2*n {
		e.work = make([]byte, 0, 64+2*n)
	}
	if cap(e.body) < 64+n {
		e.body = make([]byte, 0, 64+n)
	}
	return e
}

func putEncoder(e *encoder) {
	if cap(e.ints) <= maxPooledPoints {
		encoders.Put(e)
	}
}

// header is the parsed fixed part of a file.
type header struct {
	crc   uint32
	count int
}

func readHeader(data []byte) (header, []byte, error) {
	if len(data) < headerFixed {
		return header{}, nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrCorrupt, len(data))
	}
	if string(data[:len(Magic)]) != Magic {
		return header{}, nil, fmt.Errorf("%w: bad magic %q, want %q", ErrCorrupt, data[:len(Magic)], Magic)
	}
	if v := data[len(Magic)]; v != Version {
		return header{}, nil, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, v)
	}
	h := header{crc: binary.LittleEndian.Uint32(data[len(Magic)+1:])}
	n, k, err := Uvarint(data[headerFixed:])
	if err != nil {
		return header{}, nil, fmt.Errorf("point count: %w", err)
	}
	if n > uint64(maxPointsPerByte*len(data)) {
		return header{}, nil, fmt.Errorf("%w: %d points cannot fit in %d bytes", ErrCorrupt, n, len(data))
	}
	h.count = int(n)
	return h, data[headerFixed+k:], nil
}

// Decompress decodes a file written by Compress. It checks the structure
// (magic, version, lengths, codecs, exception positions, no trailing bytes)
// and returns errors wrapping ErrCorrupt; it does not compare the result with
// the stored checksum, which costs a pass over the output: call Verify for
// that. It never panics, whatever data holds.
func Decompress(data []byte) (ts []int64, vs []float64, err error) {
	h, rest, err := readHeader(data)
	if err != nil {
		return nil, nil, err
	}
	ts = make([]int64, h.count)
	vs = make([]float64, h.count)
	if h.count > 0 {
		if rest, err = DecodeColumns(ts, vs, rest); err != nil {
			return nil, nil, err
		}
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	return ts, vs, nil
}

// DecodeColumns fills ts and vs (len(ts) == len(vs) ≥ 1 points) from a
// timestamp column followed by a value column (AppendTimestamps then
// AppendValues, any Layout) and returns the bytes after them. The value
// column comes second but is decoded first, through ts as scratch space
// for its integer codes; the timestamps then overwrite that space: no
// allocation.
func DecodeColumns(ts []int64, vs []float64, src []byte) (rest []byte, err error) {
	if len(ts) != len(vs) {
		return nil, fmt.Errorf("%w: %d timestamps, %d values", ErrCorrupt, len(ts), len(vs))
	}
	if len(ts) == 0 {
		return src, nil
	}
	tcol := src
	if rest, err = skipTimestamps(tcol); err != nil {
		return nil, err
	}
	if rest, err = decodeValues(vs, rest, ts); err != nil {
		return nil, err
	}
	if _, err = DecodeTimestamps(ts, tcol); err != nil {
		return nil, err
	}
	return rest, nil
}

// Verify checks ts and vs against the header of the compressed file data: the
// point count and the CRC-32C of the original raw bytes. The CLI runs it on the
// points read back from the file it wrote, so "PASSED" covers the decoder and
// the write. A mismatch wraps ErrChecksum; a bad header wraps ErrCorrupt.
func Verify(data []byte, ts []int64, vs []float64) error {
	h, _, err := readHeader(data)
	if err != nil {
		return err
	}
	if len(ts) != h.count || len(vs) != h.count {
		return fmt.Errorf("%w: header says %d points, got %d timestamps and %d values",
			ErrChecksum, h.count, len(ts), len(vs))
	}
	if got := Checksum(ts, vs); got != h.crc {
		return fmt.Errorf("%w: header CRC-32C %08x, points give %08x", ErrChecksum, h.crc, got)
	}
	return nil
}
