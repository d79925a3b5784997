package memstore

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// oracle is the obviously correct model of a series: a map from timestamp to
// the last value written there.
type oracle map[int64]float64

func (o oracle) rangeOf(mint, maxt int64) []model.Sample {
	var out []model.Sample
	for t, v := range o {
		if t >= mint && t <= maxt {
			out = append(out, model.Sample{T: t, V: v})
		}
	}
	slices.SortFunc(out, func(a, b model.Sample) int { return cmp.Compare(a.T, b.T) })
	return out
}

func checkRange(t *testing.T, s *Series, o oracle, mint, maxt int64) {
	t.Helper()
	got := s.Range(mint, maxt, nil)
	want := o.rangeOf(mint, maxt)
	if !slices.Equal(got, want) {
		t.Fatalf("Range(%d, %d): got %d points, want %d\n got %v\nwant %v", mint, maxt, len(got), len(want), head(got), head(want))
	}
}

func head(s []model.Sample) []model.Sample { return s[:min(len(s), 8)] }

func TestSeriesWritePatterns(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   func(r *rand.Rand, i int) int64
		n    int
	}{
		{"in order", func(r *rand.Rand, i int) int64 { return int64(i) * 10 }, 3 * pageSize},
		{"reverse", func(r *rand.Rand, i int) int64 { return int64(100000 - i) }, 3 * pageSize},
		{"slightly late", func(r *rand.Rand, i int) int64 { return int64(i)*10 - r.Int64N(50) }, 5 * pageSize},
		{"random with duplicates", func(r *rand.Rand, i int) int64 { return r.Int64N(3000) }, 4 * pageSize},
		{"same timestamp", func(r *rand.Rand, i int) int64 { return 7 }, 100},
		{"extreme timestamps", func(r *rand.Rand, i int) int64 {
			return []int64{-1 << 63, 1<<63 - 1, 0, -1, 1}[i%5] + int64(i/5)*[]int64{1, -1, 1, 1, 1}[i%5]
		}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			s := &Series{}
			o := oracle{}
			for i := range tc.n {
				ts := tc.ts(r, i)
				v := r.Float64()
				s.Append(ts, v)
				o[ts] = v
				if i%997 == 0 { // reads in between force merges at odd moments
					checkRange(t, s, o, ts-100, ts+100)
				}
			}
			checkRange(t, s, o, -1<<63, 1<<63-1)
			if s.Len() != len(o) {
				t.Errorf("Len() = %d, want %d distinct timestamps", s.Len(), len(o))
			}
			for range 200 {
				a, b := r.Int64N(120000)-10000, r.Int64N(120000)-10000
				checkRange(t, s, o, min(a, b), max(a, b))
			}
		})
	}
}

func TestRangeBounds(t *testing.T) {
	s := &Series{}
	for i := range int64(10) {
		s.Append(100+10*i, float64(i)) // 100, 110, ..., 190
	}
	for _, tc := range []struct {
		mint, maxt int64
		want       []int64
	}{
		{100, 120, []int64{100, 110, 120}}, // inclusive at both ends
		{101, 119, []int64{110}},
		{0, 99, nil},
		{191, 500, nil},
		{190, 190, []int64{190}},
		{150, 140, nil}, // empty range
		{-1 << 63, 1<<63 - 1, []int64{100, 110, 120, 130, 140, 150, 160, 170, 180, 190}},
	} {
		var got []int64
		for _, p := range s.Range(tc.mint, tc.maxt, nil) {
			got = append(got, p.T)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Range(%d, %d) = %v, want %v", tc.mint, tc.maxt, got, tc.want)
		}
	}
}

func TestLastWriteWins(t *testing.T) {
	s := &Series{}
	s.Append(10, 1)
	s.Append(20, 2)
	s.Append(20, 3) // in-order duplicate
	s.Append(10, 4) // out-of-order duplicate
	s.Append(10, 5)
	s.Append(15, 6)
	want := []model.Sample{{T: 10, V: 5}, {T: 15, V: 6}, {T: 20, V: 3}}
	if got := s.Range(0, 100, nil); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	s.Append(15, 7) // duplicate of a point already merged
	want[1].V = 7
	if got := s.Range(0, 100, nil); !slices.Equal(got, want) {
		t.Fatalf("after re-write: got %v, want %v", got, want)
	}
}

func TestRangeAppendsToDst(t *testing.T) {
	s := &Series{}
	s.Append(1, 1)
	dst := []model.Sample{{T: -5, V: -5}}
	got := s.Range(0, 10, dst)
	if want := []model.Sample{{T: -5, V: -5}, {T: 1, V: 1}}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestConcurrentAppendAndRead is meant for -race: appenders and readers on
// the same series, then a check that nothing was lost.
func TestConcurrentAppendAndRead(t *testing.T) {
	st := New()
	ls := model.MustFromStrings(model.MetricName, "m")
	const writers, per = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				// Interleaved timestamps make every writer's points late for the others.
				st.Insert(ls, int64(i*writers+w), float64(w))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			_ = st.Query(ls, 0, 1<<40)
			_ = st.Stats()
		}
	}()
	wg.Wait()
	got := st.Lookup(ls).Range(0, 1<<40, nil)
	if len(got) != writers*per {
		t.Fatalf("%d points, want %d", len(got), writers*per)
	}
	for i, p := range got {
		if p.T != int64(i) || p.V != float64(i%writers) {
			t.Fatalf("point %d = %v", i, p)
		}
	}
}
