package gorilla

import "fmt"

// DecodeAll appends every sample of the chunk to dstT and dstV and returns
// the extended slices. It is the bulk path for readers that want the whole
// chunk anyway (a query over its full range, a compaction): the same
// decoding as Iterator, minus one method call and one state write-back per
// sample. Pass slices with spare capacity to decode without allocating.
func (c *Chunk) DecodeAll(dstT []int64, dstV []float64) ([]int64, []float64, error) {
	return DecodeAll(c.Bytes(), dstT, dstV)
}

// DecodeAll decodes the chunk bytes b; see Chunk.DecodeAll.
func DecodeAll(b []byte, dstT []int64, dstV []float64) ([]int64, []float64, error) {
	var it Iterator
	it.Reset(b)
	if it.err != nil {
		return dstT, dstV, it.err
	}
	n := it.total
	dstT = grow(dstT, n)
	dstV = growF(dstV, n)
	// The first two samples have their own layout; the iterator handles them.
	for it.read < 2 && it.Next() {
		t, v := it.At()
		dstT = append(dstT, t)
		dstV = append(dstV, v)
	}
	if it.err != nil {
		return dstT, dstV, it.err
	}
	if it.read == n {
		return dstT, dstV, nil
	}
	var err error
	if it.enc == Integer {
		dstT, dstV, err = decodeIntRest(&it, dstT, dstV)
	} else {
		dstT, dstV, err = decodeXORRest(&it, dstT, dstV)
	}
	if err != nil {
		return dstT, dstV, err
	}
	if (it.r.pos+7)>>3 != len(b) {
		return dstT, dstV, fmt.Errorf("%w: %d bytes after the last sample", ErrCorrupt, len(b)-(it.r.pos+7)>>3)
	}
	return dstT, dstV, nil
}

func grow(s []int64, n int) []int64 {
	if cap(s)-len(s) < n {
		s2 := make([]int64, len(s), len(s)+n)
		copy(s2, s)
		s = s2
	}
	return s
}

func growF(s []float64, n int) []float64 {
	if cap(s)-len(s) < n {
		s2 := make([]float64, len(s), len(s)+n)
		copy(s2, s)
		s = s2
	}
	return s
}
