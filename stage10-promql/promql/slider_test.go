package promql

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSlider: at every step the slider's window and its count of drops
// equal what a filter over the whole series gives (the oracle), for the
// slice and the iterator path, over windows that overlap (step < range),
// tile, leave gaps (step > range) or stand still (an @ time).
func TestSlider(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var all []Point
		tm, v := int64(rng.IntN(50)), 0.0
		for range rng.IntN(200) {
			tm += 1 + int64(rng.IntN(30))
			switch r := rng.IntN(20); {
			case r == 0:
				v = 0 // a counter reset
			case r == 1:
				all = append(all, Point{T: tm, V: StaleNaN})
				continue
			case r == 2:
				all = append(all, Point{T: tm, V: math.NaN()})
				continue
			default:
				v += float64(rng.IntN(10))
			}
			all = append(all, Point{T: tm, V: v})
		}
		live := slices.DeleteFunc(slices.Clone(all), func(p Point) bool { return IsStaleNaN(p.V) })
		width := 1 + int64(rng.IntN(200))
		step := int64(rng.IntN(150))
		first := int64(rng.IntN(100))
		var it, sl slider
		it.fromIterator(&sliceIterator{s: all, i: -1}, nil)
		sl.fromSlice(live)
		for i := range 60 {
			end := first + int64(i)*step
			start := end - width
			var want []Point
			for _, p := range live {
				if p.T > start && p.T <= end {
					want = append(want, p)
				}
			}
			drops := 0
			for j := 1; j < len(want); j++ {
				if want[j].V < want[j-1].V {
					drops++
				}
			}
			for name, s := range map[string]*slider{"iterator": &it, "slice": &sl} {
				got := s.advance(start, end)
				if !slices.EqualFunc(got, want, func(a, b Point) bool {
					return a.T == b.T && math.Float64bits(a.V) == math.Float64bits(b.V)
				}) {
					t.Fatalf("round %d, %s, window (%d, %d]: got %v, want %v", round, name, start, end, got, want)
				}
				if s.drops != drops {
					t.Fatalf("round %d, %s, window (%d, %d]: %d drops, want %d", round, name, start, end, s.drops, drops)
				}
			}
		}
	}
}

// TestSliderKeepsAWindow: fed from an iterator, the slider's buffer stays
// about one window long however long the series.
func TestSliderKeepsAWindow(t *testing.T) {
	all := make([]Point, 100_000)
	for i := range all {
		all[i] = Point{T: int64(i) * 15, V: float64(i)}
	}
	var s slider
	s.fromIterator(&sliceIterator{s: all, i: -1}, nil)
	for end := int64(0); end <= all[len(all)-1].T; end += 60 {
		if w := s.advance(end-300, end); len(w) > 20 {
			t.Fatalf("window of %d samples", len(w))
		}
	}
	if c := cap(s.buf); c > 64 {
		t.Errorf("buffer capacity %d for 20-sample windows", c)
	}
}
