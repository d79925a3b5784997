package promql

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// rateSlideEval is a rangeEval of rate, increase or delta over a grid of
// steps steps from start, interval apart, as rangeSeries sets it up.
func rateSlideEval(name string, start, interval int64, steps int) *rangeEval {
	ev := &evaluator{ctx: context.Background(), start: start, interval: interval, steps: steps}
	rf := rangeFuncs[name]
	return &rangeEval{ev: ev, rf: rf, fn: rf.fn, limit: 1 << 30}
}

// TestRateSlide: over random counters, with ranges that are and are not a
// whole number of steps (the two ways rateSlide finds a window's first
// sample), rateSlide gives up exactly when a sample some window reaches
// falls or is a NaN, and otherwise gives at every step what
// extrapolatedRate gives over that step's window (the oracle: a filter
// over the whole series), bit for bit, for rate, increase and delta.
func TestRateSlide(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		var buf []Point
		tm, v := int64(rng.IntN(50)), float64(rng.IntN(100))
		spoil := rng.IntN(4) == 0 // a fall, a stale marker or a NaN somewhere
		for range rng.IntN(300) {
			if rng.IntN(4) == 0 {
				tm += 1 + int64(rng.IntN(40)) // irregular
			} else {
				tm += 15
			}
			v += float64(rng.IntN(20))
			p := Point{T: tm, V: v}
			if spoil && rng.IntN(100) == 0 {
				switch rng.IntN(3) {
				case 0:
					p.V = v / 2
				case 1:
					p.V = StaleNaN
				case 2:
					p.V = math.NaN()
				}
			}
			buf = append(buf, p)
		}
		stride := 1 + int64(rng.IntN(60))
		rngMs := stride * int64(1+rng.IntN(8))
		if rng.IntN(3) == 0 {
			rngMs = 1 + int64(rng.IntN(200)) // not a multiple, most of the time
		}
		steps := 1 + rng.IntN(120)
		first := int64(rng.IntN(200))
		name := []string{"rate", "increase", "delta"}[round%3]
		re := rateSlideEval(name, first, stride, steps)
		lastEnd := first + int64(steps-1)*stride
		wantOK := true
		for i, p := range buf {
			if p.T > lastEnd {
				break
			}
			if math.IsNaN(p.V) || i > 0 && p.V < buf[i-1].V {
				wantOK = false
			}
		}
		pts, _, ok := re.rateSlide(buf, rngMs, refGrid{first: first, stride: stride}, nil)
		if ok != wantOK {
			t.Fatalf("round %d: ok = %v, want %v", round, ok, wantOK)
		}
		if !ok {
			continue
		}
		var want []Point
		for i := range steps {
			end := first + int64(i)*stride
			w := window{start: end - rngMs, end: end}
			for _, p := range buf {
				if p.T > w.start && p.T <= end {
					w.pts = append(w.pts, p)
				}
			}
			if got, ok := re.rf.fn(&w); ok {
				want = append(want, Point{T: end, V: got})
			}
		}
		if len(pts) != len(want) {
			t.Fatalf("round %d (%s, range %d, stride %d): %d points, want %d", round, name, rngMs, stride, len(pts), len(want))
		}
		for i := range want {
			if pts[i].T != want[i].T || math.Float64bits(pts[i].V) != math.Float64bits(want[i].V) {
				t.Fatalf("round %d (%s, range %d, stride %d): point %d = %v, want %v", round, name, rngMs, stride, i, pts[i], want[i])
			}
		}
	}
}

// BenchmarkRateSlide: rate's step loop over the series of the capstone's
// 24 h query, 5,760 regular counter samples at 15 s, 5m windows at a 60 s
// step (1,441 steps). ns/sample is per sample of the series.
func BenchmarkRateSlide(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]Point, 5760+20)
	v := 0.0
	for i := range buf {
		v += math.Round(15 * rng.Float64() * 3)
		buf[i] = Point{T: int64(i) * 15_000, V: v}
	}
	const step, steps = 60_000, 1441
	first := int64(20 * 15_000)
	re := rateSlideEval("rate", first, step, steps)
	pts := make([]Point, 0, steps)
	for b.Loop() {
		var ok bool
		if pts, _, ok = re.rateSlide(buf, 5*60_000, refGrid{first: first, stride: step}, pts[:0]); !ok || len(pts) != steps {
			b.Fatalf("ok = %v, %d points", ok, len(pts))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(buf)), "ns/sample")
}
