package gorilla

import "math/bits"

// Timestamps are stored as delta-of-delta (section 4.1.1 of the paper): with
// samples at a fixed interval the delta between neighbours is constant, so
// the difference between two consecutive deltas (the "dod") is zero and costs
// one bit. Jitter and missed samples give small dods, coded in a few
// variable-length buckets; anything else falls into an escape.
//
// The paper counted seconds and sized its buckets for that unit
// (7, 9 and 12 bits, escape 32). We count milliseconds, the unit of
// Prometheus and of every later stage, so the buckets are sized for what
// millisecond scrapes actually produce:
//
//	prefix  payload  dod range              what lands there
//	0       -        0                      a perfectly regular sample
//	10      7 bits   -63 .. 64 ms           scheduling jitter of a few ms
//	110     17 bits  -65535 .. 65536 ms     a late or missed scrape (intervals up to ~1 min)
//	1110    24 bits  -8388607 .. 8388608 ms a gap of up to ~2.3 h
//	1111    64 bits  any int64              anything else (two's complement)
//
// The payload ranges follow the paper's convention of an n-bit bucket
// holding -(2^(n-1)-1) .. 2^(n-1): the value 2^(n-1) is written as the bit
// pattern of -2^(n-1), which a regular clock never produces (a sample that
// comes late is more common than one that comes early by the same amount).

// dodBucket is one variable-length bucket.
type dodBucket struct {
	prefix, prefixLen uint64
	payload           int
}

var dodBuckets = [...]dodBucket{
	{prefix: 0b10, prefixLen: 2, payload: 7},
	{prefix: 0b110, prefixLen: 3, payload: 17},
	{prefix: 0b1110, prefixLen: 4, payload: 24},
}

// inBucket reports whether dod fits an n-bit bucket: -(2^(n-1)-1) <= dod <= 2^(n-1).
func inBucket(dod int64, n int) bool {
	return -(int64(1)<<(n-1)-1) <= dod && dod <= int64(1)<<(n-1)
}

// writeDod appends one delta-of-delta.
func (w *bitWriter) writeDod(dod int64) {
	if dod == 0 {
		w.writeBits(0, 1)
		return
	}
	for _, bk := range dodBuckets {
		if inBucket(dod, bk.payload) {
			mask := uint64(1)<<bk.payload - 1
			w.writeBits(bk.prefix<<bk.payload|uint64(dod)&mask, int(bk.prefixLen)+bk.payload)
			return
		}
	}
	w.writeBits(0b1111, 4)
	w.writeBits64(uint64(dod), 64)
}

// readDod consumes one delta-of-delta. The prefix and a bucket's payload
// always fit in one peeked word (at most 4+24 bits), so the common cases
// cost a single load.
func (r *bitReader) readDod() int64 {
	word := r.peek()
	if word>>63 == 0 {
		r.pos++
		return 0
	}
	ones := bits.LeadingZeros64(^word) // length of the run of 1 bits: 1, 2, 3 or 4+
	if ones >= 4 {
		r.pos += 4
		return int64(r.readBits64(64))
	}
	bk := &dodBuckets[ones-1]
	n := uint(bk.payload)
	v := int64(word << bk.prefixLen >> (64 - n))
	r.pos += int(bk.prefixLen) + bk.payload
	if v > int64(1)<<(n-1) {
		v -= int64(1) << n // the bucket's negative half
	}
	return v
}
