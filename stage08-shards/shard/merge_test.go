package shard

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestMergeSamples checks the k-way merge against sorting everything.
func TestMergeSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k := range 8 {
		runs := make([][]model.Sample, k)
		var all []model.Sample
		for i := range runs {
			t0 := int64(r.IntN(100))
			for range r.IntN(50) {
				t0 += 1 + int64(r.IntN(5))
				s := model.Sample{T: t0*10 + int64(i), V: float64(i)} // distinct times across runs
				runs[i] = append(runs[i], s)
				all = append(all, s)
			}
		}
		slices.SortFunc(all, func(a, b model.Sample) int { return cmpInt64(a.T, b.T) })
		if got := mergeSamples(runs); !slices.Equal(got, all) && len(all) > 0 {
			t.Fatalf("k=%d: merge differs from sort", k)
		}
	}
	// Equal timestamps: the later run wins.
	got := mergeSamples([][]model.Sample{{{T: 1, V: 1}, {T: 2, V: 1}}, {{T: 2, V: 2}}})
	if want := []model.Sample{{T: 1, V: 1}, {T: 2, V: 2}}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestMergeSeries(t *testing.T) {
	a, b, c := model.MustFromStrings("__name__", "a"), model.MustFromStrings("__name__", "b"), model.MustFromStrings("__name__", "c")
	got := mergeSeries([][]Series{
		{{Labels: a, Samples: []model.Sample{{T: 1}}}, {Labels: c, Samples: []model.Sample{{T: 1}}}},
		nil,
		{{Labels: a, Samples: []model.Sample{{T: 5}}}, {Labels: b, Samples: []model.Sample{{T: 5}}}},
	})
	want := []Series{{Labels: a, Samples: []model.Sample{{T: 1}, {T: 5}}}, {Labels: b, Samples: []model.Sample{{T: 5}}}, {Labels: c, Samples: []model.Sample{{T: 1}}}}
	equalSeries(t, "merge", got, want)
}
