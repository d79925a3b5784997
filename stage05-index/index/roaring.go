package index

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Roaring's portable format (github.com/RoaringBitmap/RoaringFormatSpec), as
// far as checkRoaring reads it; all integers little-endian:
//
//	cookie  u32  12346, then u32 n = container count           (no run containers)
//	        or   12347 | (n-1)<<16, then ⌈n/8⌉ bytes: bit i set = container i is a run container
//	n × (u16 key = high 16 bits, u16 cardinality-1)
//	n × u32 container offsets  (absent when there are run flags and n < 4)
//	n containers:
//	   run     u16 r, then r × (u16 start, u16 length-1)
//	   bitmap  8192 bytes (cardinality > 4096)
//	   array   cardinality × u16, sorted
const (
	cookieNoRuns = 12346
	cookieRuns   = 12347
)

// checkRoaring verifies, in one linear pass, that b is exactly one valid
// serialized bitmap, so that the roaring library can then read it in place
// (FromBuffer) without its own Validate, whose run-container check is
// quadratic in the number of runs.
func checkRoaring(b []byte) error {
	le := binary.LittleEndian
	bad := func(format string, args ...any) error { return fmt.Errorf("roaring bitmap: "+format, args...) }
	if len(b) < 4 {
		return bad("truncated")
	}
	cookie, off := le.Uint32(b), 4
	var n int
	var runFlags []byte
	switch {
	case cookie&0xffff == cookieRuns:
		n = int(cookie>>16) + 1
		if len(b) < off+(n+7)/8 {
			return bad("truncated run flags")
		}
		runFlags, off = b[off:off+(n+7)/8], off+(n+7)/8
	case cookie == cookieNoRuns:
		if len(b) < 8 {
			return bad("truncated")
		}
		n, off = int(le.Uint32(b[4:])), 8
		if n > 1<<16 {
			return bad("%d containers", n)
		}
	default:
		return bad("bad cookie %#x", cookie)
	}
	if len(b) < off+4*n {
		return bad("truncated header")
	}
	header := b[off : off+4*n]
	off += 4 * n
	if runFlags == nil || n >= 4 {
		off += 4 * n // offsets: the containers are read in order, so they are not needed
	}
	prevKey := -1
	for i := range n {
		key, card := int(le.Uint16(header[4*i:])), int(le.Uint16(header[4*i+2:]))+1
		if key <= prevKey {
			return bad("container keys out of order")
		}
		prevKey = key
		isRun := runFlags != nil && runFlags[i/8]&(1<<(i%8)) != 0
		switch {
		case isRun:
			if len(b) < off+2 {
				return bad("truncated run container")
			}
			r := int(le.Uint16(b[off:]))
			off += 2
			if r == 0 || len(b) < off+4*r {
				return bad("bad run container")
			}
			sum, next := 0, 0 // next: lowest start allowed (runs disjoint, not adjacent)
			for j := range r {
				start, length := int(le.Uint16(b[off+4*j:])), int(le.Uint16(b[off+4*j+2:]))+1
				if start < next || start+length > 1<<16 {
					return bad("runs overlap, touch or overflow")
				}
				next, sum = start+length+1, sum+length
			}
			if sum != card {
				return bad("run container cardinality %d, header says %d", sum, card)
			}
			off += 4 * r
		case card > 4096:
			if len(b) < off+8192 {
				return bad("truncated bitmap container")
			}
			pop := 0
			for j := 0; j < 8192; j += 8 {
				pop += bits.OnesCount64(le.Uint64(b[off+j:]))
			}
			if pop != card {
				return bad("bitmap container cardinality %d, header says %d", pop, card)
			}
			off += 8192
		default:
			if len(b) < off+2*card {
				return bad("truncated array container")
			}
			for j := 1; j < card; j++ {
				if le.Uint16(b[off+2*j:]) <= le.Uint16(b[off+2*j-2:]) {
					return bad("array container not sorted")
				}
			}
			off += 2 * card
		}
	}
	if off != len(b) {
		return bad("%d bytes in a %d-byte entry", off, len(b))
	}
	return nil
}
