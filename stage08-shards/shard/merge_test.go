package shard

import (
	"context"
	"errors"
	"fmt"
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

// TestMergeSamplesRunsInOrder: runs that follow one another (the shards'
// case) are concatenated; empty runs are skipped; runs that touch (equal
// timestamps) or come in the wrong order still merge as the heap does.
func TestMergeSamplesRunsInOrder(t *testing.T) {
	run := func(from, to int64) []model.Sample {
		var out []model.Sample
		for ts := from; ts < to; ts++ {
			out = append(out, model.Sample{T: ts, V: float64(from)})
		}
		return out
	}
	cases := []struct {
		name string
		runs [][]model.Sample
		want []model.Sample
	}{
		{"disjoint", [][]model.Sample{run(0, 3), nil, run(3, 5), run(9, 10)}, append(append(run(0, 3), run(3, 5)...), run(9, 10)...)},
		{"one non-empty", [][]model.Sample{nil, run(4, 6), nil}, run(4, 6)},
		{"reversed", [][]model.Sample{run(5, 7), run(0, 2)}, append(run(0, 2), run(5, 7)...)},
		{"touching", [][]model.Sample{run(0, 3), run(2, 4)}, append(run(0, 2), run(2, 4)...)},
		{"all empty", [][]model.Sample{nil, {}}, nil},
	}
	for _, tc := range cases {
		if got := mergeSamples(tc.runs); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMergeParallel: any number of workers gives the serial merge's
// result; a cancelled context stops it with its error.
func TestMergeParallel(t *testing.T) {
	var sets [][]Series
	for s := range 3 {
		var set []Series
		for i := range 200 {
			if (i+s)%3 == 0 {
				continue // not every series in every shard
			}
			l := model.MustFromStrings("__name__", "m", "i", fmt.Sprintf("%03d", i))
			set = append(set, Series{Labels: l, Samples: []model.Sample{{T: int64(s*10 + i%7), V: float64(s)}}})
		}
		sets = append(sets, set)
	}
	want := mergeSeries(sets)
	for workers := range 4 {
		got, err := mergeParallel(bg, groupSeries(sets), workers)
		if err != nil {
			t.Fatal(err)
		}
		equalSeries(t, fmt.Sprintf("workers=%d", workers), got, want)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := mergeParallel(ctx, groupSeries(sets), 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
