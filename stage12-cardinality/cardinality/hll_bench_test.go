package cardinality

import (
	"fmt"
	"testing"
)

// BenchmarkHLLAdd: one Add of a precomputed hash into a dense sketch (the
// hash is the series hash the caller already has).
func BenchmarkHLLAdd(b *testing.B) {
	hashes := make([]uint64, 1<<16)
	for i := range hashes {
		hashes[i] = hashOf(1, uint64(i))
	}
	h := New()
	for _, x := range hashes {
		h.Add(x)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.Add(hashes[i&(len(hashes)-1)])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/add")
}

// BenchmarkHLLAddSparse: Adds into a sketch that stays sparse (1,000
// distinct hashes, repeated).
func BenchmarkHLLAddSparse(b *testing.B) {
	hashes := make([]uint64, 1024)
	for i := range hashes {
		hashes[i] = hashOf(2, uint64(i%1000))
	}
	h := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Add(hashes[i&1023])
	}
	if !h.Sparse() {
		b.Fatal("sketch went dense")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/add")
}

// BenchmarkHLLMergeDense: merging one dense sketch into another.
func BenchmarkHLLMergeDense(b *testing.B) {
	x, y := New(), New()
	for i := range uint64(100000) {
		x.Add(hashOf(3, i))
		y.Add(hashOf(4, i))
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		x.Merge(y)
	}
	cpu.report("cpu-ns/merge")
	if x.Sparse() {
		b.Fatal("not dense")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/merge")
}

// BenchmarkHLLCount: one estimate of a dense sketch.
func BenchmarkHLLCount(b *testing.B) {
	x := New()
	for i := range uint64(100000) {
		x.Add(hashOf(5, i))
	}
	for b.Loop() {
		_ = x.Count()
	}
}

// BenchmarkHLLSize reports the sketch's memory and encoded bytes at a
// few sizes (it measures sizes, not time).
func BenchmarkHLLSize(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 3000, 10000} {
		b.Run(fmt.Sprint("n=", n), func(b *testing.B) {
			var h *HLL
			for b.Loop() {
				h = New()
				for i := range uint64(n) {
					h.Add(hashOf(6, uint64(i)))
				}
			}
			enc, _ := h.MarshalBinary()
			h.flush()
			b.ReportMetric(float64(h.SizeBytes()), "mem-B")
			b.ReportMetric(float64(len(enc)), "encoded-B")
		})
	}
}
