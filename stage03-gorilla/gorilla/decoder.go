package gorilla

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model"
)

// decoder is the state of a chunk being read: the bit position, what has
// been decoded so far and what the next sample is coded against (previous
// timestamp and delta, previous value, XOR window). Iterator, DecodeAll,
// Stats and Appender's resume all run on it.
//
// step decodes one sample with the plain bit-reader functions of
// timestamps.go, xor.go and intvalues.go: it is the readable reference.
// decode decodes many at once with the fast loops of decode_xor.go, which
// the reference and fuzz tests compare with step.
type decoder struct {
	r      bitReader
	enc    Encoding
	total  int // samples in the chunk
	read   int // samples decoded so far
	t      int64
	tDelta int64
	v      uint64 // float64 bits (XOR) or int64 (Integer)
	err    error

	leading, trailing uint8
}

// reset makes the decoder start over on the chunk bytes b.
func (d *decoder) reset(b []byte) {
	*d = decoder{r: bitReader{b: b, pos: headerSize * 8}, leading: noWindow}
	if len(b) < headerSize {
		d.err = fmt.Errorf("%w: chunk of %d bytes has no header", ErrCorrupt, len(b))
		return
	}
	hdr := binary.BigEndian.Uint16(b)
	d.enc = Encoding(hdr >> encShift)
	d.total = int(hdr & countMask)
	if d.enc != XOR && d.enc != Integer {
		d.err = fmt.Errorf("%w: unknown encoding %d", ErrCorrupt, d.enc)
	}
	if d.total == 0 && len(b) != headerSize {
		d.err = fmt.Errorf("%w: %d bytes after an empty chunk's header", ErrCorrupt, len(b)-headerSize)
	}
}

// value returns the current value as a float64.
func (d *decoder) value() float64 {
	if d.enc == Integer {
		return float64(int64(d.v))
	}
	return math.Float64frombits(d.v)
}

// step decodes one sample and reports whether it is valid; false with
// d.err == nil means the chunk is exhausted.
func (d *decoder) step() bool {
	if d.err != nil || d.read >= d.total {
		return false
	}
	switch d.read {
	case 0:
		if !d.readFirst() {
			return false
		}
	case 1:
		delta, ok := d.uvarint()
		if !ok {
			return false
		}
		d.tDelta = int64(delta)
		d.t += d.tDelta
		if !d.readValue() {
			return false
		}
	default:
		d.tDelta += d.r.readDod()
		d.t += d.tDelta
		if !d.readValue() {
			return false
		}
	}
	d.read++
	return d.checkEnd()
}

// checkEnd is run after each sample: the sample must lie inside the chunk,
// and after the last one only padding may follow.
func (d *decoder) checkEnd() bool {
	if d.r.overrun() {
		d.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, d.read-1)
		return false
	}
	if d.read == d.total && (d.r.pos+7)>>3 != len(d.r.b) {
		d.err = fmt.Errorf("%w: %d bytes after the last sample", ErrCorrupt, len(d.r.b)-(d.r.pos+7)>>3)
		return false
	}
	return true
}

// readFirst decodes sample 0: byte-aligned varints and the raw first value.
func (d *decoder) readFirst() bool {
	i := d.r.pos >> 3
	t, n := binary.Varint(d.r.b[i:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad first timestamp", ErrCorrupt)
		return false
	}
	d.t = t
	d.r.pos += n * 8
	if d.enc == Integer {
		v, n := binary.Varint(d.r.b[i+n:])
		if n <= 0 {
			d.err = fmt.Errorf("%w: bad first value", ErrCorrupt)
			return false
		}
		d.v = uint64(v)
		d.r.pos += n * 8
		return true
	}
	d.v = d.r.readBits64(64)
	return true
}

func (d *decoder) uvarint() (uint64, bool) {
	delta, n := binary.Uvarint(d.r.b[d.r.pos>>3:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad first delta", ErrCorrupt)
		return 0, false
	}
	d.r.pos += n * 8
	return delta, true
}

func (d *decoder) readValue() bool {
	if d.enc == Integer {
		d.v += uint64(d.r.readIntDelta())
		return true
	}
	x, ok := d.r.readXOR(&d.leading, &d.trailing)
	if !ok {
		d.err = fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, d.read)
		return false
	}
	d.v ^= x
	return true
}

// decode decodes up to len(ss) samples into ss and returns how many it
// decoded. It stops early at the end of the chunk or at corrupt data (d.err
// is set then); the samples before the damage are returned, which is what
// makes the iterator lazy. It writes rows, what a query engine reads
// (AppendSamples, Iterator); DecodeAll splits them into columns.
func (d *decoder) decode(ss []model.Sample) int {
	k := 0
	// Samples 0 and 1 have their own byte-aligned layout: the reference step.
	for k < len(ss) && d.read < 2 && d.step() {
		ss[k] = model.Sample{T: d.t, V: d.value()}
		k++
	}
	if k == len(ss) || d.err != nil || d.read < 2 || d.read >= d.total {
		return k
	}
	if d.enc == Integer {
		k += d.decodeInt(ss[k:])
	} else {
		k += d.decodeXOR(ss[k:])
	}
	if d.err == nil && d.read == d.total && !d.checkEnd() {
		k-- // as in step: a chunk with bytes after its last sample ends in an error, not in that sample
	}
	return k
}
