package gorilla

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/tsdb-course/stage01-memstore/model"
)

// The fast loops. On the TSBS data (integers 0-100 every 10 s) every
// timestamp is regular (dod '0') and the values split 37 % repeats ('0'),
// 56 % window reuses ('10' + ~5 bits) and 6 % new windows ('11' + 11 bits
// + the window). Four things make them fast:
//
//   - No branch on the value's first control bit. Taken at random 40-60 %
//     of the time, such a branch is mispredicted about every other sample,
//     ~15 cycles each, which was most of the cost of the first version.
//     "dod 0, then '0' or '10'" is decoded as one case: the control bit
//     becomes a mask (all ones or all zeros) that selects between the two
//     results with AND, so the CPU never has to guess.
//   - One look at three bits: w>>61 is the dod bit and both value control
//     bits, and a single compare (<= 0b010) picks the branch-free case.
//   - A 64-bit bit buffer: w holds the stream from the current bit on, and
//     a decoded sample is shifted out of it. The next sample's control bits
//     are then ready in a register; w is reloaded (one big-endian 8-byte
//     load, loadAt) only when it may hold fewer bits than the sample needs,
//     about once every 7 samples here.
//   - No calls in the inner loop (see decodeXOR). Anything rare (a non-zero
//     dod, a window too wide, corrupt bits) leaves the inner loop and is
//     decoded by the plain step functions of timestamps.go, xor.go and
//     intvalues.go, which the tests also use as the reference.
//
// State lives in local variables, which the compiler keeps in registers,
// and is written back to the decoder once per call.

// fastWindow is the widest window the branch-free path handles: 3 control
// bits + 54 = 57, what one load at any bit offset guarantees.
const fastWindow = 54

// xorState is the decoder state carried from one XOR sample to the next.
type xorState struct {
	t, delta          int64
	v                 uint64
	leading, trailing uint8
}

// decodeXOR decodes the next samples (after the second) of an XOR chunk
// into ss, at most len(ss) and at most to the end of the chunk.
// It returns how many it decoded; on corrupt data it sets d.err and
// returns the samples before the damage.
//
// The inner loop makes no function calls, on purpose: Go's register
// allocator saves every live variable to the stack around a call, and when a
// call sits anywhere in a loop those saves and reloads end up on its hot
// path (measured: ~1.5 ns/sample). Everything the inner loop cannot do
// inline breaks out to the outer loop, which decodes that one sample with
// stepXOR and re-enters.
func (d *decoder) decodeXOR(ss []model.Sample) int {
	ss = ss[:min(len(ss), d.total-d.read)]
	b := d.r.b
	if len(b) < 8 { // a valid chunk is longer by now; loadAt needs 8 bytes
		return d.decodeXORSteps(ss)
	}
	pos, limit := d.r.pos, len(b)<<3
	t, delta, v := d.t, d.tDelta, d.v
	tz := uint(d.trailing)
	m := 64 - int(d.leading) - int(d.trailing) // window width; < 0 before the first window
	// w holds the stream from bit pos on, left-aligned; its top avail bits
	// are loaded (zeros past the end of the chunk). Consuming a sample shifts
	// it out of w, so the next sample's control bits are ready without a
	// memory access; w is reloaded only when it may run short.
	var w uint64
	avail := 0
	k := 0
	for k < len(ss) {
		for ; k < len(ss); k++ {
			if avail < 3+m {
				w, avail = loadAt(b, pos), 64-pos&7
			}
			// w>>61 is the dod bit and the value's first two control bits.
			used := 0
			if c := w >> 61; c <= 0b010 && uint(m-1) < fastWindow {
				// 000 and 001: dod 0, the value repeats; 010: dod 0, the
				// value reuses the window. Decoded without a branch between
				// the two.
				reuse := -(w >> 62 & 1) // all ones for '10', zero for '0'
				v ^= w << 3 >> uint((64-m)&63) << (tz & 63) & reuse
				used = 2 + int(uint64(m+1)&reuse) // '0': 1+1 bits; '10': 1+2+m
			} else if c == 0b011 {
				// dod 0, a new window: '11', 5 bits leading zeros, 6 bits width.
				w, avail = loadAt(b, pos), 64-pos&7
				lz, mm := int(w<<3>>59), int(w<<8>>58)
				if mm == 0 || lz+mm > 64 || 14+mm > avail {
					break // width 64 (stored as 0), corrupt, or too wide for w
				}
				m, tz = mm, uint(64-lz-mm)
				v ^= w << 14 >> uint((64-m)&63) << (tz & 63)
				used = 14 + m
			} else {
				break // a non-zero dod, or a window too wide for w
			}
			w <<= uint(used) & 63
			avail -= used
			pos += used
			t += delta
			if pos > limit {
				break
			}
			ss[k] = model.Sample{T: t, V: math.Float64frombits(v)}
		}
		if k == len(ss) {
			break
		}
		if pos > limit {
			d.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, d.read+k)
			break
		}
		// The sample the inner loop left: decode it with the step functions.
		lead := uint8(noWindow)
		if m > 0 {
			lead = uint8(64 - m - int(tz))
		}
		next, s, ok := stepXOR(b, pos, xorState{t, delta, v, lead, uint8(tz)})
		if !ok {
			d.err = fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, d.read+k)
			break
		}
		if next > limit {
			d.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, d.read+k)
			break
		}
		pos, t, delta, v = next, s.t, s.delta, s.v
		m, tz = 64-int(s.leading)-int(s.trailing), uint(s.trailing)
		avail = 0 // reload at the new position
		ss[k] = model.Sample{T: t, V: math.Float64frombits(v)}
		k++
	}
	d.r.pos, d.t, d.tDelta, d.v = pos, t, delta, v
	d.leading, d.trailing = noWindow, uint8(tz)
	if m > 0 {
		d.leading = uint8(64 - m - int(tz))
	}
	d.read += k
	return k
}

// decodeXORSteps decodes like decodeXOR, one stepXOR per sample: the path
// for a stream too short for loadAt, which can only be corrupt.
func (d *decoder) decodeXORSteps(ss []model.Sample) int {
	k := 0
	for ; k < len(ss) && d.step(); k++ {
		ss[k] = model.Sample{T: d.t, V: d.value()}
	}
	return k
}

// loadAt returns the 64 bits of b from bit pos on, left-aligned, for
// len(b) >= 8. Near the end it loads the last 8 bytes instead and shifts
// the bytes before pos out, so zeros come in past the end: no branch and no
// call, which keeps the loops that use it free of both.
func loadAt(b []byte, pos int) uint64 {
	i := pos >> 3
	j := min(i, len(b)-8)
	return binary.BigEndian.Uint64(b[j:]) << (8 * uint(i-j)) << uint(pos&7)
}

// stepXOR decodes one XOR sample after the second starting at bit pos with
// the plain step functions (readDod, readXOR) and returns the new position
// and state; ok is false for control bits no encoder writes. The fast loop
// calls it for every sample it does not handle itself.
func stepXOR(b []byte, pos int, s xorState) (int, xorState, bool) {
	r := bitReader{b: b, pos: pos}
	s.delta += r.readDod()
	s.t += s.delta
	x, ok := r.readXOR(&s.leading, &s.trailing)
	s.v ^= x
	return r.pos, s, ok
}

// decodeInt is decodeXOR for Integer chunks, with the same 64-bit bit
// buffer. Two cases are decoded in the inner loop: "dod 0, then '0'
// (difference 0) or '10' + 2 bits (±1, ±2)" without a branch between them
// (99 % of the TSBS samples), and "dod 0, then a wider bucket" (counters,
// whose increments are rarely within ±2), whose prefix and payload lengths
// are computed from the count of leading ones rather than loaded from
// intBuckets, so that a table load is not on the path from one sample to
// the next. Anything else (a non-zero dod, a 64-bit difference) is decoded
// by the step functions.
func (d *decoder) decodeInt(ss []model.Sample) int {
	ss = ss[:min(len(ss), d.total-d.read)]
	b := d.r.b
	if len(b) < 8 { // loadAt needs 8 bytes
		return d.decodeIntSteps(ss)
	}
	pos, limit := d.r.pos, len(b)<<3
	t, delta, v := d.t, d.tDelta, d.v
	var w uint64 // the stream from bit pos on, left-aligned, as in decodeXOR
	avail := 0
	k := 0
	for k < len(ss) {
		for ; k < len(ss); k++ {
			if avail < maxIntCode {
				w, avail = loadAt(b, pos), 64-pos&7
			}
			used := 0
			if w>>61 <= 0b010 {
				small := -(w >> 62 & 1) // all ones for '10', zero for '0'
				s := int64(w<<3) >> 62  // the 2-bit payload, sign-extended
				s += 1 + s>>63          // positive differences are stored minus one
				v += uint64(s) & small
				used = 2 + int(3&small) // '0': 1+1 bits; '10': 1+2+2
			} else if ones := bits.LeadingZeros64(^(w << 1)); w>>63 == 0 && ones <= len(intBuckets) {
				prefixLen := ones + 1 // '110' has 2 ones and 3 bits
				payload := int(intPayloads >> (8 * uint(ones-1) & 63) & 0xff)
				s := int64(w<<uint(1+prefixLen)) >> uint(64-payload)
				s += 1 + s>>63
				v += uint64(s)
				used = 1 + prefixLen + payload
			} else {
				break // a non-zero dod or a 64-bit difference
			}
			w <<= uint(used) & 63
			avail -= used
			pos += used
			t += delta
			if pos > limit {
				break
			}
			ss[k] = model.Sample{T: t, V: float64(int64(v))}
		}
		if k == len(ss) {
			break
		}
		if pos > limit {
			d.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, d.read+k)
			break
		}
		r := bitReader{b: b, pos: pos}
		delta += r.readDod()
		t += delta
		v += uint64(r.readIntDelta())
		if pos = r.pos; pos > limit {
			d.err = fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, d.read+k)
			break
		}
		avail = 0 // reload at the new position
		ss[k] = model.Sample{T: t, V: float64(int64(v))}
		k++
	}
	d.r.pos, d.t, d.tDelta, d.v = pos, t, delta, v
	d.read += k
	return k
}

// maxIntCode is the longest code decodeInt's inner loop takes from w: a
// '0' dod bit, the '11110' prefix and 24 bits of payload.
const maxIntCode = 1 + 5 + 24

// intPayloads packs the payload lengths of intBuckets, one per byte,
// lowest byte first: 2, 6, 13 and 24 bits.
const intPayloads = 2 | 6<<8 | 13<<16 | 24<<24

// decodeIntSteps is decodeInt one step per sample, for a stream too short
// for loadAt.
func (d *decoder) decodeIntSteps(ss []model.Sample) int {
	k := 0
	for ; k < len(ss) && d.step(); k++ {
		ss[k] = model.Sample{T: d.t, V: d.value()}
	}
	return k
}
