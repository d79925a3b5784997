// Package gorilla implements the time-series compression of Facebook's
// Gorilla paper (Pelkonen et al., VLDB 2015, section 4.1): timestamps as
// delta-of-delta, values as XOR with the previous value, packed into chunks
// of a few hundred samples that are appended one sample at a time and read
// back with a streaming iterator.
//
// The chunk is the unit later stages store: stage06 keeps 120-sample chunks
// in its head and blocks, exactly as Prometheus does with its XOR chunks.
package gorilla

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors callers branch on. Every decoding error wraps ErrCorrupt.
var (
	// ErrCorrupt means the bytes are not a chunk (or a file) this package wrote.
	ErrCorrupt = errors.New("gorilla: corrupt data")
	// ErrChunkFull means the chunk already holds MaxSamples samples.
	ErrChunkFull = errors.New("gorilla: chunk full")
	// ErrNotInteger means a non-integer value was appended to an Integer chunk.
	ErrNotInteger = errors.New("gorilla: value is not an integer")
	// ErrEncoding means an unknown Encoding was asked for.
	ErrEncoding = errors.New("gorilla: unknown encoding")
)

// Encoding says how a chunk stores its values. Timestamps are always
// delta-of-delta.
type Encoding uint8

const (
	// XOR is the paper's value encoding, the default and the lesson.
	XOR Encoding = 0
	// Integer stores differences of integer values; see intvalues.go.
	Integer Encoding = 1
)

func (e Encoding) String() string {
	switch e {
	case XOR:
		return "xor"
	case Integer:
		return "integer"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// Chunk layout (every field is described bit by bit in the README):
//
//	bytes 0-1  header, big-endian uint16: bits 15-14 encoding, bits 13-0 sample count
//	then a bit stream, most significant bit first:
//	  sample 0  t as a zig-zag varint; XOR: v as 64 raw bits / Integer: v as a zig-zag varint
//	  sample 1  t-t0 as a uvarint;     v coded against sample 0 (xor.go / intvalues.go)
//	  sample n  dod coded as in timestamps.go; v coded against sample n-1
//	  zero bits up to the next byte boundary
//
// The header is the same two bytes Prometheus spends on its count; the
// encoding shares them so that choosing an encoding per chunk costs nothing.
// Samples 0 and 1 start on byte boundaries, so their varints are plain bytes.
const (
	headerSize = 2
	countMask  = 1<<14 - 1
	encShift   = 14
)

// MaxSamples is the most samples a chunk holds (the count has 14 bits).
const MaxSamples = countMask

// Chunk is a compressed run of samples of one series.
//
// A Chunk is not safe for concurrent use while it is being appended to;
// any number of iterators may read it concurrently otherwise.
type Chunk struct {
	w bitWriter
}

// owned reports whether the chunk's buffer is its own, to append to. It
// is not, while it is a caller's slice given to FromBytes: the first
// Appender call copies it, so the caller's bytes are never written. An
// owned buffer always extends 8 bytes past the writer's word (bitWriter);
// FromBytes's ends at it. Derived rather than stored: a store that keeps
// one open chunk per series (stage06's head) keeps a million of them.
func (c *Chunk) owned() bool { return c.w.at+8 <= len(c.w.buf) }

// NewChunk returns an empty chunk with the given value encoding.
func NewChunk(enc Encoding) (*Chunk, error) {
	// A 120-sample chunk of regular data fits, with the 8 bytes the writer
	// stores past its last bit.
	return NewChunkSize(enc, 144)
}

// MinChunkSize is the smallest buffer a chunk starts with: the header and
// the 8 bytes the writer stores past its last bit.
const MinChunkSize = headerSize + 8

// NewChunkSize is NewChunk with a buffer of size bytes (at least
// MinChunkSize) to start with; it grows as samples are appended, and the
// encoded bytes are the same whatever the size. A store that keeps many
// chunks open with few samples each starts them small: stage06's head keeps
// one open chunk per series, and 144 bytes each would be 144 MB for a
// million series that have one sample. 28 bytes hold the first sample of
// any series (a 10-byte timestamp varint and 8 bytes of value).
func NewChunkSize(enc Encoding, size int) (*Chunk, error) {
	c := new(Chunk)
	if err := c.Reset(enc, size); err != nil {
		return nil, err
	}
	return c, nil
}

// Reset makes c an empty chunk with a new buffer of size bytes, as
// NewChunkSize does, in place: a store that embeds its open chunk (and its
// Appender, see Appender.Reset) in a larger struct starts a chunk with one
// allocation, the buffer. Bytes returned before stay valid.
func (c *Chunk) Reset(enc Encoding, size int) error {
	if enc != XOR && enc != Integer {
		return fmt.Errorf("%w: %d", ErrEncoding, enc)
	}
	*c = Chunk{w: bitWriter{buf: make([]byte, max(size, MinChunkSize)), at: headerSize}}
	binary.BigEndian.PutUint16(c.w.buf, uint16(enc)<<encShift)
	return nil
}

// ResetBuf is Reset with a buffer the caller gives instead of a new one:
// at least MinChunkSize bytes, whose contents do not matter, which the
// chunk owns from then on (it grows past it by reallocating, never by
// writing beyond len(buf)). A store that starts many chunks at once can
// carve their buffers from one allocation.
func (c *Chunk) ResetBuf(enc Encoding, buf []byte) error {
	if enc != XOR && enc != Integer {
		return fmt.Errorf("%w: %d", ErrEncoding, enc)
	}
	if len(buf) < MinChunkSize {
		return fmt.Errorf("gorilla: chunk buffer of %d bytes, need at least %d", len(buf), MinChunkSize)
	}
	*c = Chunk{w: bitWriter{buf: buf[:len(buf):len(buf)], at: headerSize}}
	binary.BigEndian.PutUint16(c.w.buf, uint16(enc)<<encShift)
	return nil
}

// FromBytes wraps bytes produced by Bytes. It checks the header only; the
// samples are checked as they are decoded. The chunk keeps b (no copy) and
// never modifies it.
func FromBytes(b []byte) (*Chunk, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: chunk of %d bytes has no header", ErrCorrupt, len(b))
	}
	if enc := Encoding(b[0] >> 6); enc != XOR && enc != Integer {
		return nil, fmt.Errorf("%w: unknown encoding %d", ErrCorrupt, enc)
	}
	return &Chunk{w: bitWriter{buf: b, at: len(b)}}, nil
}

// Bytes returns the encoded chunk. The slice aliases the chunk's buffer: it
// is valid until the next Append.
func (c *Chunk) Bytes() []byte { return c.w.bytes() }

// NumSamples returns the number of samples in the chunk.
func (c *Chunk) NumSamples() int { return int(binary.BigEndian.Uint16(c.w.buf) & countMask) }

// Encoding returns the chunk's value encoding.
func (c *Chunk) Encoding() Encoding { return Encoding(c.w.buf[0] >> 6) }

// Iterator returns an iterator over the chunk's samples, reusing it if not nil.
func (c *Chunk) Iterator(it *Iterator) *Iterator {
	if it == nil {
		it = &Iterator{}
	}
	it.Reset(c.Bytes())
	return it
}
