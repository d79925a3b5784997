package compare

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/tsdb-course/stage12-cardinality/cardinality"
)

// stage12's HyperLogLog and github.com/axiomhq/hyperloglog (precision 14,
// sparse on) fed the same 64-bit hashes: accuracy, add and merge speed,
// bytes. Both take a precomputed hash (InsertHash), so the hash function
// is not part of the comparison.

// splitmix is the stream of test hashes: SplitMix64 of (seed, i), uniform
// and cheaper than the sketches, so the sweep measures them.
func splitmix(seed, i uint64) uint64 {
	z := seed*0x9e3779b97f4a7c15 + i*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

type sketch interface {
	add(uint64)
	estimate() uint64
	bytes() int
}

type ourHLL struct{ h *cardinality.HLL }

func (s ourHLL) add(x uint64)     { s.h.Add(x) }
func (s ourHLL) estimate() uint64 { return s.h.Count() }
func (s ourHLL) bytes() int       { b, _ := s.h.MarshalBinary(); return len(b) }

type axiomHLL struct{ h *hyperloglog.Sketch }

func (s axiomHLL) add(x uint64)     { s.h.InsertHash(x) }
func (s axiomHLL) estimate() uint64 { return s.h.Estimate() }
func (s axiomHLL) bytes() int       { b, _ := s.h.MarshalBinary(); return len(b) }

var impls = []struct {
	name string
	make func() sketch
}{
	{"stage12", func() sketch { return ourHLL{cardinality.New()} }},
	{"axiomhq", func() sketch { return axiomHLL{hyperloglog.New14()} }},
}

// errStats feeds n distinct hashes under each seed into a fresh sketch
// and returns the mean and worst relative error.
func errStats(mk func() sketch, n, seeds int) (mean, worst float64) {
	for seed := range seeds {
		s := mk()
		for i := range n {
			s.add(splitmix(uint64(seed)+1, uint64(i)))
		}
		e := math.Abs(float64(s.estimate())-float64(n)) / float64(n)
		mean += e
		worst = max(worst, e)
	}
	return mean / float64(seeds), worst
}

// TestHLLSideBySide: on the same hashes both sketches are within 3σ of the
// exact count on average, at 10^3 … 10^5 over 10 seeds (the full sweep is
// BenchmarkHLLError), and their estimates agree after a merge.
func TestHLLSideBySide(t *testing.T) {
	for _, n := range []int{1000, 10000, 100000} {
		for _, im := range impls {
			mean, worst := errStats(im.make, n, 10)
			t.Logf("n=%d %s: mean %.3f%% worst %.3f%%", n, im.name, 100*mean, 100*worst)
			if mean > 3*cardinality.StdError {
				t.Errorf("n=%d %s: mean error %.4f", n, im.name, mean)
			}
		}
	}
	a, b := cardinality.New(), cardinality.New()
	x, y := hyperloglog.New14(), hyperloglog.New14()
	for i := range uint64(200000) {
		h := splitmix(99, i)
		if i%2 == 0 {
			a.Add(h)
			x.InsertHash(h)
		} else {
			b.Add(h)
			y.InsertHash(h)
		}
	}
	a.Merge(b)
	if err := x.Merge(y); err != nil {
		t.Fatal(err)
	}
	ea, ex := float64(a.Count()), float64(x.Estimate())
	if math.Abs(ea-ex)/ex > 2*cardinality.StdError || math.Abs(ea-200000)/200000 > 3*cardinality.StdError {
		t.Fatalf("merged: stage12 %v, axiomhq %v, exact 200000", ea, ex)
	}
}

// BenchmarkHLLError is the accuracy sweep: mean and worst relative error
// (in %) of 100 seeds at 10^3 … 10^7 distinct, for both sketches. Run once:
// go test -run '^$' -bench HLLError -benchtime 1x ./compare/ (about a
// minute; HLL_SEEDS=N for fewer seeds).
func BenchmarkHLLError(b *testing.B) {
	seeds := 100
	if s := os.Getenv("HLL_SEEDS"); s != "" {
		fmt.Sscan(s, &seeds)
	}
	for _, n := range []int{1e3, 1e4, 1e5, 1e6, 1e7} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("n=%d/%s", n, im.name), func(b *testing.B) {
				var mean, worst float64
				for b.Loop() {
					mean, worst = errStats(im.make, n, seeds)
				}
				b.ReportMetric(100*mean, "mean-err-%")
				b.ReportMetric(100*worst, "worst-err-%")
			})
		}
	}
}

// BenchmarkHLLAdd: ns per add of a precomputed hash into a dense sketch
// (1M distinct already in it).
func BenchmarkHLLAdd(b *testing.B) {
	hashes := make([]uint64, 1<<16)
	for i := range hashes {
		hashes[i] = splitmix(7, uint64(i))
	}
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			s := im.make()
			for i := range uint64(1_000_000) {
				s.add(splitmix(8, i))
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.add(hashes[i&(len(hashes)-1)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/add")
		})
	}
}

// BenchmarkHLLAddSparse: adds into sketches that stay sparse (1,000
// distinct, repeated).
func BenchmarkHLLAddSparse(b *testing.B) {
	hashes := make([]uint64, 1024)
	for i := range hashes {
		hashes[i] = splitmix(9, uint64(i%1000))
	}
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			s := im.make()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.add(hashes[i&1023])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/add")
		})
	}
}

// BenchmarkHLLMerge: merging one dense sketch into another.
func BenchmarkHLLMerge(b *testing.B) {
	b.Run("stage12", func(b *testing.B) {
		x, y := cardinality.New(), cardinality.New()
		for i := range uint64(100000) {
			x.Add(splitmix(1, i))
			y.Add(splitmix(2, i))
		}
		for b.Loop() {
			x.Merge(y)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/merge")
	})
	b.Run("axiomhq", func(b *testing.B) {
		x, y := hyperloglog.New14(), hyperloglog.New14()
		for i := range uint64(100000) {
			x.InsertHash(splitmix(1, i))
			y.InsertHash(splitmix(2, i))
		}
		for b.Loop() {
			if err := x.Merge(y); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/merge")
	})
}

// BenchmarkHLLBytes reports each sketch's encoded size (MarshalBinary)
// at 10 … 10^6 distinct; it measures bytes, not time.
func BenchmarkHLLBytes(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 3000, 10000, 1000000} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("n=%d/%s", n, im.name), func(b *testing.B) {
				var size int
				for b.Loop() {
					s := im.make()
					for i := range n {
						s.add(splitmix(3, uint64(i)))
					}
					size = s.bytes()
				}
				b.ReportMetric(float64(size), "bytes")
			})
		}
	}
}
