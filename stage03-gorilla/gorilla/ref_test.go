package gorilla

import (
	"encoding/binary"
	"math"
	"strings"
)

// This file is the tests' oracle: a second, deliberately naive encoder that
// builds the chunk as a string of '0' and '1' characters, straight from the
// format description in chunk.go, timestamps.go, xor.go and intvalues.go.
// It shares no code with the package (no bit writer, no math/bits, bucket
// ranges written out as numbers), so a test that compares the two catches
// a mistake in either.

type refBits struct{ strings.Builder }

// put appends the low n bits of v, most significant first.
func (r *refBits) put(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		if v>>uint(i)&1 == 1 {
			r.WriteByte('1')
		} else {
			r.WriteByte('0')
		}
	}
}

func (r *refBits) putBits(s string) { r.WriteString(s) }

func (r *refBits) putBytes(p []byte) {
	for _, b := range p {
		r.put(uint64(b), 8)
	}
}

// packBits turns a '0'/'1' string into bytes, padding the last with zeros.
func packBits(s string) []byte {
	for len(s)%8 != 0 {
		s += "0"
	}
	out := make([]byte, len(s)/8)
	for i := range s {
		if s[i] == '1' {
			out[i/8] |= 0x80 >> uint(i%8)
		}
	}
	return out
}

// refLeading and refTrailing count zero bits one at a time.
func refLeading(x uint64) int {
	n := 0
	for i := 63; i >= 0 && x>>uint(i)&1 == 0; i-- {
		n++
	}
	return n
}

func refTrailing(x uint64) int {
	n := 0
	for i := 0; i < 64 && x>>uint(i)&1 == 0; i++ {
		n++
	}
	return n
}

func refChunk(ts []int64, vs []float64, enc Encoding) []byte {
	var r refBits
	r.put(uint64(enc), 2)
	r.put(uint64(len(ts)), 14)
	var tmp [10]byte
	var prevT, prevDelta int64
	var prevV uint64
	winL, winT := -1, -1
	for i := range ts {
		t := ts[i]
		switch i {
		case 0:
			r.putBytes(tmp[:binary.PutVarint(tmp[:], t)])
		case 1:
			prevDelta = t - prevT
			r.putBytes(tmp[:binary.PutUvarint(tmp[:], uint64(prevDelta))])
		default:
			delta := t - prevT
			dod := delta - prevDelta
			prevDelta = delta
			switch {
			case dod == 0:
				r.putBits("0")
			case dod >= -63 && dod <= 64:
				r.putBits("10")
				r.put(uint64(dod), 7)
			case dod >= -65535 && dod <= 65536:
				r.putBits("110")
				r.put(uint64(dod), 17)
			case dod >= -8388607 && dod <= 8388608:
				r.putBits("1110")
				r.put(uint64(dod), 24)
			default:
				r.putBits("1111")
				r.put(uint64(dod), 64)
			}
		}
		prevT = t
		if enc == Integer {
			v := int64(vs[i])
			if i == 0 {
				r.putBytes(tmp[:binary.PutVarint(tmp[:], v)])
			} else {
				d := v - int64(prevV)
				code := d
				if d > 0 {
					code = d - 1
				}
				switch {
				case d == 0:
					r.putBits("0")
				case code >= -2 && code <= 1:
					r.putBits("10")
					r.put(uint64(code), 2)
				case code >= -32 && code <= 31:
					r.putBits("110")
					r.put(uint64(code), 6)
				case code >= -4096 && code <= 4095:
					r.putBits("1110")
					r.put(uint64(code), 13)
				case code >= -8388608 && code <= 8388607:
					r.putBits("11110")
					r.put(uint64(code), 24)
				default:
					r.putBits("11111")
					r.put(uint64(d), 64)
				}
			}
			prevV = uint64(v)
			continue
		}
		v := math.Float64bits(vs[i])
		if i == 0 {
			r.put(v, 64)
			prevV = v
			continue
		}
		r.putXOR(v^prevV, &winL, &winT)
		prevV = v
	}
	return packBits(r.String())
}

// putXOR writes one XOR code as the paper describes it: '0' for no change,
// '10' and the meaningful bits inside the current window (winL leading,
// winT trailing zeros; winL < 0 before the first window), or '11', 5 bits
// of leading zeros (at most 31), 6 bits of width (64 written as 0) and the
// meaningful bits, which opens a new window.
func (r *refBits) putXOR(x uint64, winL, winT *int) {
	if x == 0 {
		r.putBits("0")
		return
	}
	lead, trail := min(refLeading(x), 31), refTrailing(x)
	if *winL >= 0 && lead >= *winL && trail >= *winT {
		r.putBits("10")
		r.put(x>>uint(*winT), 64-*winL-*winT)
		return
	}
	*winL, *winT = lead, trail
	m := 64 - lead - trail
	r.putBits("11")
	r.put(uint64(lead), 5)
	r.put(uint64(m%64), 6)
	r.put(x>>uint(trail), m)
}
