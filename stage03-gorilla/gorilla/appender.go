package gorilla

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Appender adds samples to the end of a chunk. It holds exactly the state
// the encoder needs to code the next sample: the previous timestamp and
// delta, the previous value and the current XOR window.
//
// The one-byte fields come last, together, so the struct is 40 bytes, not 48:
// stage06 keeps one Appender per series in memory.
type Appender struct {
	c      *Chunk
	t      int64
	tDelta int64
	v      uint64 // previous value: float64 bits (XOR) or int64 (Integer)

	enc               Encoding
	leading, trailing uint8 // XOR window; leading == noWindow before the first one
}

// Appender returns an appender positioned after the chunk's last sample.
//
// For a chunk loaded with FromBytes the samples are decoded once to recover
// the encoder's state (the chunk stores no such state, to stay small) and
// the bytes are copied, so appending never writes into the caller's slice.
// A corrupt chunk gives an error wrapping ErrCorrupt.
func (c *Chunk) Appender() (*Appender, error) {
	a := new(Appender)
	if err := a.Reset(c); err != nil {
		return nil, err
	}
	return a, nil
}

// Reset points a at chunk c, positioned after its last sample, as
// c.Appender() does, without allocating a new Appender. On an error a is
// the zero Appender, which must not be used.
func (a *Appender) Reset(c *Chunk) error {
	*a = Appender{c: c, enc: c.Encoding(), leading: noWindow}
	end := headerSize * 8
	if c.NumSamples() > 0 {
		var d decoder
		d.reset(c.Bytes())
		var ss [batchSize]model.Sample
		for d.decode(ss[:]) > 0 {
		}
		if d.err != nil {
			*a = Appender{}
			return fmt.Errorf("gorilla: resume appending: %w", d.err)
		}
		a.t, a.tDelta, a.v = d.t, d.tDelta, d.v
		a.leading, a.trailing = d.leading, d.trailing
		end = d.r.pos
	}
	if !c.owned() {
		nbytes := (end + 7) >> 3
		buf := make([]byte, nbytes+256)
		copy(buf, c.w.buf[:nbytes])
		if r := end & 7; r != 0 {
			buf[nbytes-1] &= 0xff << (8 - r) // padding must be zero: writes OR into it
		}
		c.w = bitWriter{buf: buf}
		c.w.seek(end)
	}
	return nil
}

// Append adds one sample. Timestamps are expected to increase (Iterator.Seek
// relies on it) but any int64 sequence round-trips. It returns ErrChunkFull
// when the chunk holds MaxSamples, and ErrNotInteger when v is not an
// integer and the chunk's encoding is Integer; the chunk is unchanged then.
func (a *Appender) Append(t int64, v float64) error {
	w := &a.c.w
	hdr := binary.BigEndian.Uint16(w.buf)
	n := int(hdr & countMask)
	if n < 2 || n >= MaxSamples || t-a.t != a.tDelta {
		return a.append(t, v, hdr)
	}
	// The steady state: a regular timestamp (dod 0, one '0' bit) and a value
	// with a short code. On the TSBS data 37 % of the values repeat and
	// 56 % fit the current XOR window, at random: a branch between the two
	// would be mispredicted about every other sample, so both codes are
	// built from a mask instead (nz: all ones when the value changed).
	switch a.enc {
	case XOR:
		vb := math.Float64bits(v)
		x := vb ^ a.v
		_, _, fits := fitsWindow(x, a.leading, a.trailing) // true for a repeat too
		m := 64 - int(a.leading) - int(a.trailing)
		if fits && m <= 61 { // 3+m bits fit one write
			nz := -((x | -x) >> 63)
			code := (0b10<<uint(m&63) | x>>(a.trailing&63)) & nz
			w.writeBits(code, 2+int(uint64(m+1)&nz)) // '0''0', or '0''10' + m bits
			a.t, a.v = t, vb
			binary.BigEndian.PutUint16(w.buf, hdr+1)
			return nil
		}
	case Integer:
		if !isInteger(v) {
			break
		}
		d := int64(v) - int64(a.v)
		if uint64(d+2) <= 4 { // -2 <= d <= 2: '0' or '10' + 2 bits
			x := uint64(d)
			nz := -((x | -x) >> 63)
			u := d - 1 + int64(uint64(d)>>63) // positive d is stored as d-1
			w.writeBits((0b10<<2|uint64(u)&3)&nz, 2+int(3&nz))
			a.t, a.v = t, uint64(int64(v))
			binary.BigEndian.PutUint16(w.buf, hdr+1)
			return nil
		}
	}
	return a.append(t, v, hdr)
}

// append is Append for every sample the steady-state path does not take:
// the first two samples, a non-zero dod, a new window, Integer chunks.
func (a *Appender) append(t int64, v float64, hdr uint16) error {
	w := &a.c.w
	n := int(hdr & countMask)
	if n >= MaxSamples {
		return ErrChunkFull
	}
	var vb uint64
	if a.enc == Integer {
		if !isInteger(v) {
			return fmt.Errorf("%w: %v", ErrNotInteger, v)
		}
		vb = uint64(int64(v))
	} else {
		vb = math.Float64bits(v)
	}
	switch n {
	case 0:
		var tmp [binary.MaxVarintLen64]byte
		w.writeBytes(tmp[:binary.PutVarint(tmp[:], t)])
		if a.enc == Integer {
			w.writeBytes(tmp[:binary.PutVarint(tmp[:], int64(vb))])
		} else {
			w.writeBits64(vb, 64)
		}
	case 1:
		var tmp [binary.MaxVarintLen64]byte
		a.tDelta = t - a.t
		w.writeBytes(tmp[:binary.PutUvarint(tmp[:], uint64(a.tDelta))])
		a.writeValue(vb)
	default:
		d := t - a.t
		dod := d - a.tDelta
		a.tDelta = d
		if a.enc == XOR && dod == 0 {
			// The timestamp's '0' goes out with the value.
			w.writeXOR(0, 1, vb^a.v, &a.leading, &a.trailing)
			break
		}
		w.writeDod(dod)
		a.writeValue(vb)
	}
	a.t, a.v = t, vb
	binary.BigEndian.PutUint16(w.buf, hdr+1)
	return nil
}

func (a *Appender) writeValue(vb uint64) {
	if a.enc == Integer {
		a.c.w.writeIntDelta(int64(vb - a.v))
		return
	}
	a.c.w.writeXOR(0, 0, vb^a.v, &a.leading, &a.trailing)
}

// AllIntegers reports whether every value survives a round trip through
// int64, i.e. whether the Integer encoding can store them.
func AllIntegers(vs []float64) bool {
	for _, v := range vs {
		if !isInteger(v) {
			return false
		}
	}
	return true
}

// Encode compresses the samples (at most MaxSamples) into a new chunk.
func Encode(ts []int64, vs []float64, enc Encoding) (*Chunk, error) {
	if len(ts) != len(vs) {
		return nil, fmt.Errorf("gorilla: %d timestamps but %d values", len(ts), len(vs))
	}
	c, err := NewChunk(enc)
	if err != nil {
		return nil, err
	}
	a, err := c.Appender()
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if err := a.Append(ts[i], vs[i]); err != nil {
			return nil, fmt.Errorf("gorilla: sample %d: %w", i, err)
		}
	}
	return c, nil
}
