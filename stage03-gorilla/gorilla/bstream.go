package gorilla

import "encoding/binary"

// The bit stream is the lowest layer of the codec: Gorilla packs fields of
// 1 to 64 bits back to back with no byte alignment, most significant bit
// first, so a reader sees the bits in the order the paper draws them.
//
// Both sides work on whole 64-bit words instead of single bits. The writer
// collects bits in a 64-bit accumulator and stores it, as one big-endian
// word, after every field; the reader loads the big-endian word at the byte
// holding the next unread bit and shifts. One load or one store per field,
// whatever its width, is what makes encoding and decoding cheap.

// maxFast is the widest field one read can handle: the word starts at a
// byte boundary, so up to 7 of its bits may already be taken.
const maxFast = 57

// bitWriter appends bit fields to buf.
//
// The bits not yet completed to a 64-bit word are kept in acc (left-aligned,
// nacc of them) and acc is stored at buf[at:at+8] after every write, so buf
// always holds the whole stream and Bytes never has to flush. The writer
// only ever stores: an earlier version OR-ed each field into the word loaded
// from buf, and since consecutive fields start at different bytes, that
// load overlapped the previous store only partly, which the CPU cannot
// forward from its store buffer; each field then waited for the store to
// reach the cache (measured: ~40 % of the encoding time).
//
// buf extends at least 8 bytes past at and everything after the written bits
// is zero.
type bitWriter struct {
	buf  []byte // the stream, then zero padding; the stream is buf[:(at*8+nacc+7)/8]
	at   int    // byte offset of the word acc is stored to
	acc  uint64 // the bits from byte at on, left-aligned
	nacc int    // number of bits in acc, 0..63
}

// nbits returns the number of bits written.
func (w *bitWriter) nbits() int { return w.at<<3 + w.nacc }

// bytes returns the written stream. The last byte is padded with zero bits.
func (w *bitWriter) bytes() []byte { return w.buf[:(w.nbits()+7)>>3] }

// seek positions the writer after the first nbits bits of buf, which must
// extend 8 bytes past them and hold zeros after them.
func (w *bitWriter) seek(nbits int) {
	w.at, w.nacc = nbits>>3, nbits&7
	w.acc = 0
	if w.nacc > 0 {
		w.acc = uint64(w.buf[w.at]) << 56
	}
}

// grow makes room for the 8-byte word at w.at.
func (w *bitWriter) grow() {
	extra := len(w.buf) + 16
	w.buf = append(w.buf, make([]byte, extra)...)
}

// writeBits appends the low n bits of v (0 <= n <= 64). The bits of v
// above n must be zero: callers mask, so the hot path does not.
func (w *bitWriter) writeBits(v uint64, n int) {
	free := 64 - w.nacc // 1..64
	if n < free {
		w.acc |= v << uint(free-n)
		w.nacc += n
	} else {
		// The word fills up: complete it, store it, and start the next one
		// with the bits that did not fit (a shift by 64 gives 0 in Go).
		spill := n - free
		w.acc |= v >> uint(spill)
		binary.BigEndian.PutUint64(w.buf[w.at:], w.acc)
		w.at += 8
		w.acc = v << uint(64-spill)
		w.nacc = spill
	}
	if w.at+8 > len(w.buf) {
		w.grow()
	}
	binary.BigEndian.PutUint64(w.buf[w.at:], w.acc)
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
func (r *bitReader) peek() uint64 { return peekAt(r.b, r.pos) }

// peekAt is peek as a plain function, for the fast loops that keep the
// position in a local variable (a register) rather than in a bitReader.
func peekAt(b []byte, pos int) uint64 {
	if i := pos >> 3; i+8 <= len(b) {
		return binary.BigEndian.Uint64(b[i:]) << uint(pos&7)
	}
	return peekTail(b, pos)
}

// peekTail is peekAt for the last 7 bytes of the stream, where an 8-byte
// load at the bit's byte would run past the end: it loads the last 8 bytes
// instead and shifts the bytes before the bit out, so zeros come in at the
// bottom. Chunks shorter than 8 bytes are assembled byte by byte.
func peekTail(b []byte, pos int) uint64 {
	i, n := pos>>3, len(b)
	if n >= 8 && i < n {
		return binary.BigEndian.Uint64(b[n-8:]) << (8 * uint(i-(n-8))) << uint(pos&7)
	}
	var word uint64
	for k := 0; k < 8; k++ {
		word <<= 8
		if i+k < n && i+k >= 0 {
			word |= uint64(b[i+k])
		}
	}
	return word << uint(pos&7)
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
