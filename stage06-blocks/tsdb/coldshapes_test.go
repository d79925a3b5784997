package tsdb

import (
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage02-delta/gen"
	"github.com/tsdb-course/stage02-delta/tsbs"
)

// coldShape is one data shape the encodings are compared on: its series
// as columns, each as a block of that data would hold it.
type coldShape struct {
	name   string
	ts     [][]int64
	vs     [][]float64
	approx bool // generated (fixed seed) rather than a TSBS file
}

func (s coldShape) samples() int {
	n := 0
	for _, t := range s.ts {
		n += len(t)
	}
	return n
}

// coldShapes are the data shapes of the README's encoding table: the TSBS
// cpu-only and devops files (each series whole: 6 h and 2 h at 10 s), and
// generated counters and gauges, 24 h at 15 s (5,760 samples a series):
// counters as BenchmarkFootprint writes them (integer increments in
// [0, 100)), gauges as stage02's generator (a 3-decimal random walk with
// the odd jitter, missed scrape and staleness marker). series bounds the
// generated ones.
func coldShapes(tb testing.TB, series int) []coldShape {
	var out []coldShape
	for _, f := range []struct{ name, file string }{{"tsbs-cpu-only", tsbs.CPUOnly}, {"tsbs-devops", tsbs.DevOps}} {
		path, err := tsbs.Path(f.file)
		if err != nil {
			tb.Fatal(err)
		}
		ss, err := tsbs.Load(path)
		if err != nil {
			tb.Fatal(err)
		}
		sh := coldShape{name: f.name}
		for _, s := range ss {
			sh.ts, sh.vs = append(sh.ts, s.T), append(sh.vs, s.V)
		}
		out = append(out, sh)
	}
	const n, step = 5760, int64(15_000)
	counters := coldShape{name: "counters", approx: true}
	rng := rand.New(rand.NewPCG(20, 21))
	for range series {
		ts, vs := make([]int64, n), make([]float64, n)
		v := 0.0
		for k := range n {
			v += float64(rng.IntN(100))
			ts[k], vs[k] = int64(k)*step, v
		}
		counters.ts, counters.vs = append(counters.ts, ts), append(counters.vs, vs)
	}
	gauges := coldShape{name: "gauges", approx: true}
	for i := range series {
		ts, vs := gen.Series(n, uint64(i)+1)
		gauges.ts, gauges.vs = append(gauges.ts, ts), append(gauges.vs, vs)
	}
	return append(out, counters, gauges)
}
