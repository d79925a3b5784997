package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// A frame is how one record sits in a segment:
//
//	offset 0  uint32 LE  n = length of type + payload (1 … MaxRecordSize)
//	offset 4  uint32 LE  CRC-32C (Castagnoli) of the n bytes that follow
//	offset 8  byte       record type, never 0
//	offset 9  n-1 bytes  payload
//
// The caller's record is type + payload, so a frame is just the 8-byte header
// followed by the record exactly as given to Log.
//
// Why type 0 is reserved: a block of zeroes (a zeroed page, a preallocated or
// never-written tail) then fails the check at once (length 0) instead of
// relying on the checksum.
// Why Castagnoli: CPUs compute it in hardware (SSE4.2, ARMv8), so checking
// every record on replay costs well under a nanosecond per byte.
const (
	frameHeaderSize = 8
	// MaxRecordSize bounds one record (type + payload). A length field
	// above it is damage, so a flipped high bit never makes the reader
	// try to allocate gigabytes.
	MaxRecordSize = 1 << 28
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends the frame of rec to dst.
func appendFrame(dst, rec []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = append(dst, rec...)
	putFrameHeader(dst[start:])
	return dst
}

// putFrameHeader fills in the length and checksum of frame, whose record
// (frame[frameHeaderSize:]) is already in place.
func putFrameHeader(frame []byte) {
	rec := frame[frameHeaderSize:]
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(rec)))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(rec, castagnoli))
}

// checkRecord tells why rec cannot be logged, or nil.
func checkRecord(rec []byte) error {
	switch {
	case len(rec) == 0:
		return ErrInvalidRecord
	case rec[0] == 0 || rec[0] > MaxRecordType:
		return ErrInvalidRecord
	case len(rec) > MaxRecordSize:
		return ErrInvalidRecord
	}
	return nil
}

// frameStatus is what parseFrame found at the start of b.
type frameStatus int

const (
	frameOK        frameStatus = iota // a whole, valid frame
	frameShort                        // b ends before the frame does (need more bytes, or torn at EOF)
	frameBadLength                    // length 0 or > MaxRecordSize
	frameBadType                      // type byte 0
	frameBadCRC                       // checksum mismatch
)

func (s frameStatus) String() string {
	switch s {
	case frameOK:
		return "ok"
	case frameShort:
		return "record cut short by end of file"
	case frameBadLength:
		return "impossible record length"
	case frameBadType:
		return "record type 0"
	case frameBadCRC:
		return "checksum mismatch"
	}
	return "unknown"
}

// parseFrame checks the frame at the start of b. For frameOK it returns the
// record (aliasing b) and the frame's total size; for frameShort the size the
// frame claims (0 if even the header is incomplete).
func parseFrame(b []byte) (rec []byte, size int, st frameStatus) {
	if len(b) < frameHeaderSize {
		return nil, 0, frameShort
	}
	n := binary.LittleEndian.Uint32(b[0:])
	if n == 0 || n > MaxRecordSize {
		return nil, 0, frameBadLength
	}
	size = frameHeaderSize + int(n)
	if len(b) < size {
		return nil, size, frameShort
	}
	rec = b[frameHeaderSize:size]
	if rec[0] == 0 {
		return nil, size, frameBadType
	}
	if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, size, frameBadCRC
	}
	return rec, size, frameOK
}

// resync returns the first offset at or after from where an intact record
// starts, ok false if none does. It is the one rule that tells a torn tail
// from corruption (a crash tears only the last write, so damage followed by
// an intact record is not a tear) and where Repair resumes after damage.
//
// An intact record here is a valid frame that ends at the end of b or is
// followed by another valid frame or by a frame cut short by the end of b:
// one frame alone matches a random checksum with probability 2^-32 per
// offset, which over a 128 MiB scan is not negligible; two in a row are.
func resync(b []byte, from int) (int, bool) {
	for i := from; i+frameHeaderSize < len(b); i++ {
		if _, size, st := parseFrame(b[i:]); st == frameOK {
			if i+size == len(b) {
				return i, true
			}
			if _, _, st2 := parseFrame(b[i+size:]); st2 == frameOK || st2 == frameShort {
				return i, true
			}
		}
	}
	return 0, false
}

// AppendFrame appends the frame of rec (type byte ≠ 0, then payload) to
// dst: the framing of a segment, for other files of records that want its
// checks (stage09's sketch files). It does not check rec (see Log).
func AppendFrame(dst, rec []byte) []byte { return appendFrame(dst, rec) }

// ReadFrames calls fn for each record of b[from:], a whole file of frames
// after a header of from bytes, in order, and returns where (in b) the
// intact records end. It follows the rule of
// the log: damage after which no intact record follows is a torn append (a
// crash cut the last write), and ReadFrames returns its offset with a nil
// error, for the caller to truncate there before appending again; damage
// followed by an intact record is corruption of data once whole, returned
// as an error wrapping ErrCorrupt, never to be cut away. An error from fn
// stops the walk and is returned as is.
func ReadFrames(b []byte, from int, fn func(rec []byte) error) (end int, err error) {
	off := from
	for off < len(b) {
		rec, size, st := parseFrame(b[off:])
		if st != frameOK {
			if at, ok := resync(b, off+1); ok {
				return off, fmt.Errorf("%w at offset %d: %s (an intact record follows at offset %d)", ErrCorrupt, off, st, at)
			}
			return off, nil
		}
		if err := fn(rec); err != nil {
			return off, err
		}
		off += size
	}
	return off, nil
}
