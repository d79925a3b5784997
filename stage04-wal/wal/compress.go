package wal

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression is how Log stores records. Each record carries its own flag
// (the frame's type byte, below), so one log may mix forms: a log written
// before compression existed, or with another setting, replays unchanged.
type Compression int

const (
	// CompressionSnappy stores a record as a Snappy block (the format of
	// github.com/golang/snappy's Encode), the default: as cheap to undo as
	// reading the bytes it saves, so replay stays as fast as uncompressed.
	CompressionSnappy Compression = iota
	// CompressionZstd stores a record as one zstd frame (RFC 8878, fastest
	// level): smaller than Snappy, dearer to write and to replay.
	CompressionZstd
	// CompressionNone stores records exactly as given.
	CompressionNone
)

func (c Compression) String() string {
	switch c {
	case CompressionSnappy:
		return "snappy"
	case CompressionZstd:
		return "zstd"
	case CompressionNone:
		return "none"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ParseCompression parses "snappy", "zstd" or "none" (the String forms).
func ParseCompression(s string) (Compression, error) {
	for _, c := range []Compression{CompressionSnappy, CompressionZstd, CompressionNone} {
		if strings.EqualFold(s, c.String()) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("wal: unknown compression %q (want snappy, zstd or none)", s)
}

// The frame's type byte says how the record is stored. Callers' types are
// 1 … 0xFD; the two highest values mean "compressed", and the bytes after
// them are the compressed caller record (its own type byte included):
//
//	type 0xFE  payload = Snappy block of (type | payload)
//	type 0xFF  payload = zstd frame of (type | payload)
//
// Why a reserved type rather than a bit of the caller's type: callers own
// the whole type byte (stage07 uses 0x10 and 0x11), and a flag value no
// caller may log keeps every record written before compression existed
// valid as it is. The checksum covers the stored (compressed) bytes, so
// damage is found before anything is decompressed.
const (
	typeSnappy = 0xFE
	typeZstd   = 0xFF
	// MaxRecordType is the largest type byte a caller may log.
	MaxRecordType = 0xFD
	// minCompress: shorter records are stored as they are; Snappy and
	// zstd headers would eat most of what they could save.
	minCompress = 32
)

// ErrDecompress is the reason of a compressed record whose checksum holds
// but whose bytes do not decompress into a record: written by a faulty
// program, not torn by a crash. The Reader reports it as a
// *CorruptionError (errors.Is ErrCorrupt) naming the record's place, and
// Check and Repair treat the record as damaged bytes.
var ErrDecompress = errors.New("record does not decompress")

var (
	zstdEnc = sync.OnceValues(func() (*zstd.Encoder, error) {
		// EncodeAll is safe for concurrent use; each concurrent call
		// takes one of GOMAXPROCS encoder states. No zstd checksum: the
		// frame's CRC-32C already covers the bytes.
		return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
	})
	zstdDec = sync.OnceValues(func() (*zstd.Decoder, error) {
		// The memory bound keeps a forged frame header from asking for
		// more than a record may hold.
		return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxRecordSize))
	})
)

// appendRecordFrame appends the frame of rec to dst, compressed with c when
// that makes it smaller, and returns the frame's size.
func appendRecordFrame(dst, rec []byte, c Compression) ([]byte, error) {
	if c == CompressionNone || len(rec) < minCompress {
		return appendFrame(dst, rec), nil
	}
	start := len(dst)
	// Header and flag first, the compressed bytes straight after them:
	// no copy of the compressed record.
	dst = append(dst, make([]byte, frameHeaderSize+1)...)
	body := len(dst)
	switch c {
	case CompressionSnappy:
		need := s2.MaxEncodedLen(len(rec))
		if need < 0 {
			return dst[:start], fmt.Errorf("%w: too large to compress", ErrInvalidRecord)
		}
		dst = growLen(dst, need)
		n := len(s2.EncodeSnappy(dst[body:], rec))
		dst = dst[:body+n]
		dst[start+frameHeaderSize] = typeSnappy
	case CompressionZstd:
		enc, err := zstdEnc()
		if err != nil {
			return dst[:start], fmt.Errorf("wal: zstd: %w", err)
		}
		dst = enc.EncodeAll(rec, dst)
		dst[start+frameHeaderSize] = typeZstd
	default:
		return dst[:start], fmt.Errorf("wal: unknown compression %d", c)
	}
	if len(dst)-body+1 >= len(rec) {
		// Incompressible (random values, a tiny record): the per-record
		// flag lets this one go as it is.
		return appendFrame(dst[:start], rec), nil
	}
	putFrameHeader(dst[start:])
	return dst, nil
}

// growLen extends b by n bytes (contents unspecified).
func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// compressed reports whether a stored record (a frame's type + payload) is
// in compressed form.
func compressed(stored []byte) bool {
	return len(stored) > 0 && stored[0] >= typeSnappy
}

// decompress returns the caller's record of a stored record: stored itself
// if it is not compressed, else the record decompressed into buf (reused).
// The result must be a record Log would take: type 1 … MaxRecordType.
func decompress(stored, buf []byte) (rec, newBuf []byte, err error) {
	if !compressed(stored) {
		return stored, buf, nil
	}
	var out []byte
	switch stored[0] {
	case typeSnappy:
		n, derr := s2.DecodedLen(stored[1:])
		if derr != nil {
			return nil, buf, fmt.Errorf("%w: snappy: %v", ErrDecompress, derr)
		}
		if n > MaxRecordSize {
			return nil, buf, fmt.Errorf("%w: snappy: %d bytes decoded", ErrDecompress, n)
		}
		if cap(buf) < n {
			buf = make([]byte, n, max(n, 2*cap(buf)))
		}
		out, err = s2.Decode(buf[:cap(buf)], stored[1:])
		if err != nil {
			return nil, buf, fmt.Errorf("%w: snappy: %v", ErrDecompress, err)
		}
	case typeZstd:
		dec, derr := zstdDec()
		if derr != nil {
			return nil, buf, fmt.Errorf("wal: zstd: %w", derr)
		}
		out, err = dec.DecodeAll(stored[1:], buf[:0])
		if err != nil {
			return nil, buf, fmt.Errorf("%w: zstd: %v", ErrDecompress, err)
		}
		if len(out) > MaxRecordSize {
			return nil, buf, fmt.Errorf("%w: zstd: %d bytes decoded", ErrDecompress, len(out))
		}
	}
	if len(out) == 0 || out[0] == 0 || out[0] > MaxRecordType {
		return nil, buf, fmt.Errorf("%w: decompressed record has no valid type", ErrDecompress)
	}
	if cap(out) > cap(buf) {
		buf = out
	}
	return out, buf, nil
}

// isDecompressErr tells decompression damage from an I/O or setup error.
func isDecompressErr(err error) bool { return errors.Is(err, ErrDecompress) }
