package rollup

import (
	"encoding/binary"
	"fmt"
	"math"
)

// sketchVersion is the first byte of an encoded sketch.
const sketchVersion = 1

// maxBinIndex bounds a decoded bin index: |log_γ v| for any float64 at the
// smallest γ a sketch accepts stays far below it.
const maxBinIndex = 1 << 30

// MarshalBinary encodes the sketch (README "Sketch encoding"):
//
//	version   1 byte  (1)
//	alpha     8 bytes float64, little endian
//	maxBins   uvarint
//	min, max  8 + 8 bytes float64, little endian (+Inf, −Inf when empty)
//	zero      uvarint  count of values with |v| < 1e-9
//	flags     1 byte   bit 0: positive bins collapsed, bit 1: negative
//	positive  varint offset, uvarint n, n × uvarint count
//	negative  varint offset, uvarint n, n × uvarint count
//
// Bins are dense from offset, so a bin costs the bytes of its count's
// varint (1 byte up to 127, 3 bytes up to 2^21).
func (s *Sketch) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 32+len(s.pos.counts)+len(s.neg.counts))), nil
}

// AppendBinary appends the encoding of MarshalBinary to b.
func (s *Sketch) AppendBinary(b []byte) []byte {
	b = append(b, sketchVersion)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.alpha))
	b = binary.AppendUvarint(b, uint64(s.maxBins))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.min))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.max))
	b = binary.AppendUvarint(b, s.zero)
	var flags byte
	if s.pos.collapsed {
		flags |= 1
	}
	if s.neg.collapsed {
		flags |= 2
	}
	b = append(b, flags)
	for _, st := range []*store{&s.pos, &s.neg} {
		b = binary.AppendVarint(b, int64(st.offset))
		b = binary.AppendUvarint(b, uint64(len(st.counts)))
		for _, c := range st.counts {
			b = binary.AppendUvarint(b, c)
		}
	}
	return b
}

// UnmarshalBinary decodes what MarshalBinary encoded, replacing s. Any
// malformed input (truncated, trailing bytes, bad accuracy, too many bins,
// counts that overflow) returns an error wrapping ErrCorrupt and leaves s
// unchanged.
func (s *Sketch) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if v := d.byte(); d.err == nil && v != sketchVersion {
		return fmt.Errorf("%w: sketch version %d", ErrCorrupt, v)
	}
	alpha := math.Float64frombits(d.u64())
	maxBins := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if maxBins > 1<<16 {
		return fmt.Errorf("%w: sketch with %d bins", ErrCorrupt, maxBins)
	}
	n, err := NewSketchAccuracy(alpha, int(maxBins))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	n.min = math.Float64frombits(d.u64())
	n.max = math.Float64frombits(d.u64())
	n.zero = d.uvarint()
	flags := d.byte()
	total := n.zero
	for i, st := range []*store{&n.pos, &n.neg} {
		off := d.varint()
		cnt := d.uvarint()
		if d.err != nil {
			return d.err
		}
		if cnt > maxBins || off < -maxBinIndex || off > maxBinIndex {
			return fmt.Errorf("%w: sketch store %d: %d bins at %d", ErrCorrupt, i, cnt, off)
		}
		st.offset = int(off)
		st.collapsed = flags&(1<<i) != 0
		if cnt > 0 {
			st.counts = make([]uint64, cnt)
		}
		for j := range st.counts {
			c := d.uvarint()
			if total+c < total {
				return fmt.Errorf("%w: sketch count overflows", ErrCorrupt)
			}
			total += c
			st.counts[j] = c
		}
	}
	switch {
	case d.err != nil:
		return d.err
	case len(d.b) != 0:
		return fmt.Errorf("%w: %d bytes after the sketch", ErrCorrupt, len(d.b))
	case flags&^3 != 0:
		return fmt.Errorf("%w: sketch flags %#x", ErrCorrupt, flags)
	case n.Bins() > n.maxBins:
		return fmt.Errorf("%w: %d bins, limit %d", ErrCorrupt, n.Bins(), n.maxBins)
	case total > 0 && !(n.min <= n.max):
		return fmt.Errorf("%w: sketch min %v > max %v", ErrCorrupt, n.min, n.max)
	case total == 0 && (!math.IsInf(n.min, 1) || !math.IsInf(n.max, -1)):
		return fmt.Errorf("%w: empty sketch with bounds", ErrCorrupt)
	}
	*s = *n
	return nil
}

// decoder reads the fields of an encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail("uint64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || (n > 1 && d.b[n-1] == 0) { // overlong: one value, one encoding
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || (n > 1 && d.b[n-1] == 0) {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a uvarint length and that many bytes (aliasing the input).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail("bytes")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
