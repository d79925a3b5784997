package delta

import (
	"testing"

	"github.com/tsdb-course/stage02-delta/gen"
)

// benchSeries is one input of the benchmarks: a list of series compressed
// one by one, as a TSDB compresses one series' chunk at a time.
type benchSeries struct {
	ts [][]int64
	vs [][]float64
}

func (s benchSeries) points() int {
	n := 0
	for _, t := range s.ts {
		n += len(t)
	}
	return n
}

func generatedInput() benchSeries {
	ts, vs := gen.Series(125_000, gen.Seed)
	return benchSeries{[][]int64{ts}, [][]float64{vs}}
}

func cpuOnlyInput(b *testing.B) benchSeries {
	var in benchSeries
	for _, s := range cpuOnly(b) {
		in.ts = append(in.ts, s.T)
		in.vs = append(in.vs, s.V)
	}
	return in
}

// report turns the loop's time into points per second and nanoseconds per
// point, and states the compressed size per point.
func report(b *testing.B, in benchSeries, compressed int) {
	n := float64(in.points()) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/point")
	b.ReportMetric(float64(compressed)/float64(in.points()), "B/point")
}

// BenchmarkEncode: Compress, checksum included. Target ≥ 50M points/s.
//
//	go test -run '^$' -bench 'Encode|Decode' -count 5 ./stage02-delta/delta/
func BenchmarkEncode(b *testing.B) {
	b.Run("generated", func(b *testing.B) { benchEncode(b, generatedInput()) })
	b.Run("tsbs-cpu-only", func(b *testing.B) { benchEncode(b, cpuOnlyInput(b)) })
}

func benchEncode(b *testing.B, in benchSeries) {
	size := 0
	for i := range in.ts {
		data, _ := Compress(in.ts[i], in.vs[i])
		size += len(data)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got := 0
		for i := range in.ts {
			data, _ := Compress(in.ts[i], in.vs[i])
			got += len(data)
		}
		if got != size {
			b.Fatalf("compressed size changed: %d, then %d", size, got)
		}
	}
	report(b, in, size)
}

// BenchmarkDecode: Decompress (structure checked, checksum not compared).
// Target ≥ 100M points/s.
func BenchmarkDecode(b *testing.B) {
	b.Run("generated", func(b *testing.B) { benchDecode(b, generatedInput()) })
	b.Run("tsbs-cpu-only", func(b *testing.B) { benchDecode(b, cpuOnlyInput(b)) })
}

func benchDecode(b *testing.B, in benchSeries) {
	files := make([][]byte, len(in.ts))
	size := 0
	for i := range in.ts {
		files[i], _ = Compress(in.ts[i], in.vs[i])
		size += len(files[i])
		ts, vs, err := Decompress(files[i])
		if err != nil {
			b.Fatal(err)
		}
		sameBits(b, in.ts[i], in.vs[i], ts, vs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, f := range files {
			ts, vs, err := Decompress(f)
			if err != nil || len(ts) != len(in.ts[i]) || len(vs) != len(ts) {
				b.Fatalf("series %d: %d points, %v", i, len(ts), err)
			}
		}
	}
	report(b, in, size)
}

// BenchmarkVerify: the CRC-32C pass the CLI adds after decoding.
func BenchmarkVerify(b *testing.B) {
	ts, vs := gen.Series(125_000, gen.Seed)
	data, _ := Compress(ts, vs)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(data, ts, vs); err != nil {
			b.Fatal(err)
		}
	}
	report(b, benchSeries{[][]int64{ts}, [][]float64{vs}}, len(data))
}
