package gorilla

// DecodeAll appends every sample of the chunk to dstT and dstV and returns
// the extended slices. It is the bulk path for readers that want the whole
// chunk anyway (a query over its full range, a compaction): the same
// decoding as Iterator, with no batch copy. Pass slices with spare capacity
// to decode without allocating.
func (c *Chunk) DecodeAll(dstT []int64, dstV []float64) ([]int64, []float64, error) {
	return DecodeAll(c.Bytes(), dstT, dstV)
}

// DecodeAll decodes the chunk bytes b; see Chunk.DecodeAll.
func DecodeAll(b []byte, dstT []int64, dstV []float64) ([]int64, []float64, error) {
	var d decoder
	d.reset(b)
	if d.err != nil {
		return dstT, dstV, d.err
	}
	n := d.total
	dstT = grow(dstT, n)
	dstV = growF(dstV, n)
	nt, nv := len(dstT), len(dstV)
	k := d.decode(dstT[nt:nt+n], dstV[nv:nv+n])
	return dstT[:nt+k], dstV[:nv+k], d.err
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
