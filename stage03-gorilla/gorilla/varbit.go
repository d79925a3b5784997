package gorilla

import "math/bits"

// The histogram chunks code most of their integers (bucket delta-of-deltas,
// zero-count delta-of-deltas, span fields) with one variable-length code,
// built like the dod code of timestamps.go: a run of 1 bits ended by a 0
// says how many payload bits follow.
//
//	prefix   payload  range
//	0        -        0
//	10       3 bits   ±1 .. ±4
//	110      5 bits   ±1 .. ±16
//	1110     7 bits   ±1 .. ±64
//	11110    10 bits  ±1 .. ±512
//	111110   14 bits  ±1 .. ±8192
//	1111110  32 bits  ±1 .. ±2^31
//	1111111  64 bits  any int64 (two's complement)
//
// As in intvalues.go, zero has its own one-bit code, so an n-bit payload
// holds the 2^n non-zero values -2^(n-1) .. -1, 1 .. 2^(n-1): a positive
// value is stored minus one. The widths are sized for what a counter
// histogram's buckets do between scrapes. A bucket that gains about λ
// observations per scrape, give or take the Poisson noise √λ, stores the
// difference from its neighbour, whose change from scrape to scrape (the
// delta-of-delta) is noise of about ±2√λ: measured on SyntheticHistograms
// (20 series of 720 scrapes, ~6 observations per bucket per scrape), 36 %
// of the delta-of-deltas are 0, 61 % are ±1..±15 and 2.5 % wider. On that
// data these widths cost 4.32 bits per bucket and sample; widths of
// 4/7/10/14/20 bits cost 4.60 and Prometheus's 3/6/9/12/18 cost 4.50.
var varbitBuckets = [...]dodBucket{
	{prefix: 0b10, prefixLen: 2, payload: 3},
	{prefix: 0b110, prefixLen: 3, payload: 5},
	{prefix: 0b1110, prefixLen: 4, payload: 7},
	{prefix: 0b11110, prefixLen: 5, payload: 10},
	{prefix: 0b111110, prefixLen: 6, payload: 14},
	{prefix: 0b1111110, prefixLen: 7, payload: 32},
}

// varbitEscape is the prefix of a full 64-bit payload: seven 1 bits.
const varbitEscape = len(varbitBuckets) + 1

// varbitLen returns the number of bits writeVarbit spends on d.
func varbitLen(d int64) int {
	if d == 0 {
		return 1
	}
	u := d
	if d > 0 {
		u = d - 1
	}
	for _, bk := range varbitBuckets {
		half := int64(1) << (bk.payload - 1)
		if -half <= u && u < half {
			return int(bk.prefixLen) + bk.payload
		}
	}
	return varbitEscape + 64
}

// varbitByWidth[k] is the index in varbitBuckets of the narrowest bucket
// whose payload holds a k-bit two's complement number, or
// len(varbitBuckets) for the escape: writeVarbit looks the bucket up
// instead of trying them in turn.
var varbitByWidth = func() (t [65]uint8) {
	for k := range t {
		t[k] = uint8(len(varbitBuckets))
		for i, bk := range varbitBuckets {
			if bk.payload >= k {
				t[k] = uint8(i)
				break
			}
		}
	}
	return t
}()

// writeVarbit appends d in the variable-length code.
func (w *bitWriter) writeVarbit(d int64) {
	if d == 0 {
		w.writeBits(0, 1)
		return
	}
	u := d - 1 + int64(uint64(d)>>63) // positive d is stored as d-1
	// Width of u in two's complement: its significant bits and a sign bit.
	width := 65 - bits.LeadingZeros64(uint64(u^(u>>63)))
	i := varbitByWidth[width]
	if int(i) == len(varbitBuckets) {
		w.writeBits(1<<varbitEscape-1, varbitEscape)
		w.writeBits64(uint64(d), 64)
		return
	}
	bk := &varbitBuckets[i]
	mask := uint64(1)<<bk.payload - 1
	w.writeBits(bk.prefix<<bk.payload|uint64(u)&mask, int(bk.prefixLen)+bk.payload)
}

// readVarbit consumes one value of the variable-length code. Every prefix
// and payload but the escape's fit the one peeked word (at most 7+32 bits).
func (r *bitReader) readVarbit() int64 {
	word := r.peek()
	if word>>63 == 0 {
		r.pos++
		return 0
	}
	ones := bits.LeadingZeros64(^word)
	if ones >= varbitEscape {
		r.pos += varbitEscape
		return int64(r.readBits64(64))
	}
	bk := &varbitBuckets[ones-1]
	n := uint(bk.payload)
	s := int64(word<<bk.prefixLen) >> (64 - n) // sign-extend the payload
	r.pos += int(bk.prefixLen) + bk.payload
	if s >= 0 {
		s++
	}
	return s
}

// varbitPayloads holds, in byte k, the payload width after a prefix of k
// 1 bits (and its 0), for k below varbitEscape; 0 for k = 0, the code of
// 0. A shift and a mask find it, a step shorter than a table load on the
// decoder's critical path (the next code's position depends on it).
const varbitPayloads = 3<<8 | 5<<16 | 7<<24 | 10<<32 | 14<<40 | 32<<48

func init() {
	for i, bk := range varbitBuckets {
		if int(bk.prefixLen) != i+2 || varbitPayloads>>(8*(i+1))&0xff != bk.payload {
			panic("gorilla: varbitPayloads does not match varbitBuckets")
		}
	}
}

// readBucketDods is the inner loop of decoding an integer histogram
// sample: it reads one varbit delta-of-delta per bucket, applies it to the
// bucket's delta and value, and returns the sum of the buckets' absolute
// counts. It is readVarbit inlined, without a branch on the code's
// length: on real data a third of the codes are '0' and the rest are
// short, at random, so a branch on either would be mispredicted often.
// The zero code goes through the same arithmetic (a 0-bit payload) and
// is masked to 0 at the end.
func (r *bitReader) readBucketDods(b, delta []int64) (total uint64) {
	buf, pos := r.b, r.pos
	delta = delta[:len(b)]
	var abs int64
	for i := range b {
		word := peekAt(buf, pos)
		ones := bits.LeadingZeros64(^word) // 0 for the code '0'
		var dod int64
		if ones < varbitEscape {
			n := uint(varbitPayloads >> (8 * uint(ones)) & 0xff)
			s := int64(word<<uint(ones+1)) >> (64 - n) // n = 0: 0 or -1, masked below
			pos += ones + 1 + int(n)
			nz := -int64(word >> 63) // all ones unless the code is '0'
			dod = (s + 1 + s>>63) & nz
		} else {
			r.pos = pos + varbitEscape
			dod = int64(r.readBits64(64))
			pos = r.pos
		}
		delta[i] += dod
		b[i] += delta[i]
		abs += b[i]
		total += uint64(abs)
	}
	r.pos = pos
	return total
}
