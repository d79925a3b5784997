package gorilla

import (
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
)

// DecodeAll appends every sample of the chunk to dstT and dstV and returns
// the extended slices: the columns form of AppendSamples, for readers that
// keep timestamps and values apart (compaction re-encoding a chunk). The
// decoder writes rows (decode), a batch at a time into an array on the
// stack, and DecodeAll splits each batch into the two columns. Pass slices
// with spare capacity to decode without allocating.
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
	dstT = grow(dstT, d.total)
	dstV = growF(dstV, d.total)
	var batch [batchSize]model.Sample
	for {
		k := d.decode(batch[:])
		nt, nv := len(dstT), len(dstV)
		dstT, dstV = dstT[:nt+k], dstV[:nv+k] // within the capacity grown above
		ts, vs := dstT[nt:], dstV[nv:]
		for i, s := range batch[:k] {
			ts[i], vs[i] = s.T, s.V
		}
		if k < batchSize {
			return dstT, dstV, d.err
		}
	}
}

// AppendSamples appends every sample of the chunk bytes b to dst and
// returns the extended slice. This is the form the fast loops write
// ([]model.Sample, as stage06's query path hands them to PromQL), so it
// is the cheapest way to read a whole chunk. dst grows at most once, by the
// count in the chunk's header.
func AppendSamples(b []byte, dst []model.Sample) ([]model.Sample, error) {
	var d decoder
	d.reset(b)
	if d.err != nil {
		return dst, d.err
	}
	n := d.total
	dst = slices.Grow(dst, n)
	m := len(dst)
	k := d.decode(dst[m : m+n])
	return dst[:m+k], d.err
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
