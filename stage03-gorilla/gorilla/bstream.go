package gorilla

import "encoding/binary"

// The bit stream is the lowest layer of the codec: Gorilla packs fields of
// 1 to 64 bits back to back with no byte alignment, most significant bit
// first, so a reader sees the bits in the order the paper draws them.
//
// Both sides work on whole 64-bit words instead of single bits: a field is
// written by OR-ing it into the big-endian word that starts at the byte
// holding the next free bit, and read by loading the big-endian word at the
// byte holding the next unread bit and shifting. One load (and one store) per
// field, whatever its width, is what makes encoding and decoding cheap.

// maxFast is the widest field one word operation can handle: the word starts
// at a byte boundary, so up to 7 of its bits may already be taken.
const maxFast = 57

// bitWriter appends bit fields to buf.
//
// buf always extends at least 8 bytes past the last written bit and
// everything after nbits is zero, so a write never needs a bounds check
// beyond one capacity test and never has to clear bits before OR-ing.
type bitWriter struct {
	buf   []byte // written bits, then zero padding; the stream is buf[:(nbits+7)/8]
	nbits int    // number of bits written
}

// bytes returns the written stream. The last byte is padded with zero bits.
func (w *bitWriter) bytes() []byte { return w.buf[:(w.nbits+7)>>3] }

// grow makes room for at least one more 8-byte word after the write position.
func (w *bitWriter) grow() {
	extra := len(w.buf) + 16
	w.buf = append(w.buf, make([]byte, extra)...)
}

// writeBits appends the low n bits of v (0 <= n <= maxFast). The bits of v
// above n must be zero: callers mask, so the hot path does not.
func (w *bitWriter) writeBits(v uint64, n int) {
	i := w.nbits >> 3
	if i+8 > len(w.buf) {
		w.grow()
	}
	word := binary.BigEndian.Uint64(w.buf[i:])
	word |= v << (64 - uint(w.nbits&7) - uint(n))
	binary.BigEndian.PutUint64(w.buf[i:], word)
	w.nbits += n
}

// writeBits64 appends the low n bits of v for any 0 <= n <= 64.
func (w *bitWriter) writeBits64(v uint64, n int) {
	if n <= maxFast {
		w.writeBits(v, n)
		return
	}
	w.writeBits(v>>32, n-32)
	w.writeBits(v&0xffffffff, 32)
}

// writeBytes appends whole bytes (used for the varints of a chunk's first
// samples, which always start on a byte boundary).
func (w *bitWriter) writeBytes(p []byte) {
	for _, b := range p {
		w.writeBits(uint64(b), 8)
	}
}

// bitReader reads bit fields from b, starting at bit pos.
//
// Reading past the end yields zero bits instead of panicking; the decoders
// check pos against len(b)*8 after each sample and report ErrCorrupt, so a
// truncated chunk costs one comparison per sample rather than one per field.
type bitReader struct {
	b   []byte
	pos int // next unread bit
}

// peek returns the next 64 bits left-aligned; at least maxFast of them are
// stream bits (or zeros past the end).
func (r *bitReader) peek() uint64 {
	i := r.pos >> 3
	if i+8 <= len(r.b) {
		return binary.BigEndian.Uint64(r.b[i:]) << uint(r.pos&7)
	}
	return r.peekTail(i)
}

// peekTail is peek for the last 7 bytes of the stream: it assembles the word
// byte by byte and pads it with zeros.
func (r *bitReader) peekTail(i int) uint64 {
	var word uint64
	for k := 0; k < 8; k++ {
		word <<= 8
		if i+k < len(r.b) && i+k >= 0 {
			word |= uint64(r.b[i+k])
		}
	}
	return word << uint(r.pos&7)
}

// readBits consumes and returns the next n bits (0 <= n <= maxFast).
func (r *bitReader) readBits(n int) uint64 {
	v := r.peek() >> (64 - uint(n)) // a shift by 64 yields 0, which is right for n == 0
	r.pos += n
	return v
}

// readBits64 consumes and returns the next n bits for any 0 <= n <= 64.
func (r *bitReader) readBits64(n int) uint64 {
	if n <= maxFast {
		return r.readBits(n)
	}
	hi := r.readBits(n - 32)
	return hi<<32 | r.readBits(32)
}

// overrun reports whether a read went past the end of the stream.
func (r *bitReader) overrun() bool { return r.pos > len(r.b)<<3 }
