package gorilla

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Iterator decodes a chunk one sample at a time, straight from its bytes:
// it holds only the decoder state (position, previous timestamp, delta,
// value and XOR window), never the decoded samples, so iterating a chunk
// allocates nothing and stopping early skips the rest of the work.
//
// The contract is Prometheus's: call Next (or SeekTo) before At; once Next or
// SeekTo has returned false the iterator is exhausted and Err says whether it
// stopped on corrupt data.
type Iterator struct {
	r      bitReader
	enc    Encoding
	total  int // samples in the chunk
	read   int // samples decoded so far
	t      int64
	tDelta int64
	v      uint64 // float64 bits (XOR) or int64 (Integer)
	err    error
	done   bool // Next has returned false

	leading, trailing uint8
}

// NewIterator returns an iterator over the chunk bytes b.
func NewIterator(b []byte) *Iterator {
	it := &Iterator{}
	it.Reset(b)
	return it
}

// Reset makes the iterator start over on the chunk bytes b.
func (it *Iterator) Reset(b []byte) {
	*it = Iterator{r: bitReader{b: b, pos: headerSize * 8}, leading: noWindow}
	if len(b) < headerSize {
		it.err = fmt.Errorf("%w: chunk of %d bytes has no header", ErrCorrupt, len(b))
		return
	}
	hdr := binary.BigEndian.Uint16(b)
	it.enc = Encoding(hdr >> encShift)
	it.total = int(hdr & countMask)
	if it.enc != XOR && it.enc != Integer {
		it.err = fmt.Errorf("%w: unknown encoding %d", ErrCorrupt, it.enc)
	}
	if it.total == 0 && len(b) != headerSize {
		it.err = fmt.Errorf("%w: %d bytes after an empty chunk's header", ErrCorrupt, len(b)-headerSize)
	}
}

// Next advances to the next sample and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.err != nil || it.read >= it.total {
		it.done = true
		return false
	}
	switch it.read {
	case 0:
		if !it.readFirst() {
			return false
		}
	case 1:
		d, ok := it.uvarint()
		if !ok {
			return false
		}
		it.tDelta = int64(d)
		it.t += it.tDelta
		if !it.readValue() {
			return false
		}
	default:
		if it.enc == XOR {
			pos, s, ok := stepXOR(it.r.b, it.r.pos, xorState{it.t, it.tDelta, it.v, it.leading, it.trailing})
			if !ok {
				it.err = fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, it.read)
				return false
			}
			it.r.pos, it.t, it.tDelta, it.v, it.leading, it.trailing = pos, s.t, s.delta, s.v, s.leading, s.trailing
			break
		}
		it.tDelta += it.r.readDod()
		it.t += it.tDelta
		if !it.readValue() {
			return false
		}
	}
	it.read++
	if it.r.overrun() {
		it.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, it.read-1)
		return false
	}
	if it.read == it.total && (it.r.pos+7)>>3 != len(it.r.b) {
		it.err = fmt.Errorf("%w: %d bytes after the last sample", ErrCorrupt, len(it.r.b)-(it.r.pos+7)>>3)
		return false
	}
	return true
}

// readFirst decodes sample 0: byte-aligned varints and the raw first value.
func (it *Iterator) readFirst() bool {
	i := it.r.pos >> 3
	t, n := binary.Varint(it.r.b[i:])
	if n <= 0 {
		it.err = fmt.Errorf("%w: bad first timestamp", ErrCorrupt)
		return false
	}
	it.t = t
	it.r.pos += n * 8
	if it.enc == Integer {
		v, n := binary.Varint(it.r.b[i+n:])
		if n <= 0 {
			it.err = fmt.Errorf("%w: bad first value", ErrCorrupt)
			return false
		}
		it.v = uint64(v)
		it.r.pos += n * 8
		return true
	}
	it.v = it.r.readBits64(64)
	return true
}

func (it *Iterator) uvarint() (uint64, bool) {
	d, n := binary.Uvarint(it.r.b[it.r.pos>>3:])
	if n <= 0 {
		it.err = fmt.Errorf("%w: bad first delta", ErrCorrupt)
		return 0, false
	}
	it.r.pos += n * 8
	return d, true
}

func (it *Iterator) readValue() bool {
	if it.enc == Integer {
		it.v += uint64(it.r.readIntDelta())
		return true
	}
	x, ok := it.r.readXOR(&it.leading, &it.trailing)
	if !ok {
		it.err = fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, it.read)
		return false
	}
	it.v ^= x
	return true
}

// At returns the current sample.
func (it *Iterator) At() (int64, float64) {
	if it.enc == Integer {
		return it.t, float64(int64(it.v))
	}
	return it.t, math.Float64frombits(it.v)
}

// SeekTo advances to the first sample with a timestamp >= t and reports
// whether there is one. If the current sample already qualifies, SeekTo does
// not move: like Prometheus's Seek, it never goes backwards. It relies on the
// chunk's timestamps increasing.
//
// It is Prometheus's Seek(t) under another name: go vet reserves a method
// Seek whose first parameter is an int64 for io.Seeker's signature
// (Seek(int64, int) (int64, error)) and rejects Seek(int64) bool.
func (it *Iterator) SeekTo(t int64) bool {
	if it.err != nil || it.done {
		return false
	}
	if it.read > 0 && it.t >= t {
		return true
	}
	for it.Next() {
		if it.t >= t {
			return true
		}
	}
	return false
}

// Err returns the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }
