package cardinality

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// checkBound checks Space-Saving's per-entry guarantee against exact
// counts: Count − Err ≤ true ≤ Count, and that every key whose true count
// exceeds N/k has a counter.
func checkBound[K comparable](t *testing.T, tk *TopK[K], exact map[K]uint64) {
	t.Helper()
	var n uint64
	for _, c := range exact {
		n += c
	}
	if tk.Total() != n {
		t.Fatalf("Total %d, exact %d", tk.Total(), n)
	}
	for _, e := range tk.Top(0) {
		if tr := exact[e.Key]; e.Lower() > tr || tr > e.Count {
			t.Fatalf("%v: count %d err %d, true %d: bound broken", e.Key, e.Count, e.Err, tr)
		}
	}
	for k, c := range exact {
		if c > n/uint64(tk.K()) {
			if _, ok := tk.Get(k); !ok {
				t.Fatalf("%v seen %d > N/k = %d times has no counter", k, c, n/uint64(tk.K()))
			}
		}
	}
}

// TestMilestone2_TopKFindsProblemLabels: planted heavy hitters that are
// rare in the first half of a stream and frequent in the second are all
// in the summary's top, and each reported count honours the bound
// against exact counts. Two streams: series keys by write frequency (a
// long tail of 50,000 series, 10 planted chatty ones), and label values
// by series contributed (the Tracker's own summary, where a few values of
// `path` start to bring thousands of series each late in the stream).
func TestMilestone2_TopKFindsProblemLabels(t *testing.T) {
	t.Run("series by writes", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		tk := NewTopK[uint64](100)
		exact := map[uint64]uint64{}
		const tail, planted, steps = 50000, 10, 400000
		add := func(k uint64) {
			tk.Add(k, 1)
			exact[k]++
		}
		for i := range steps {
			late := i >= steps/2
			// Early: planted keys are as rare as any tail key. Late: each
			// gets ~2 % of the writes.
			if late && rng.IntN(100) < 20 {
				add(1_000_000 + uint64(rng.IntN(planted)))
				continue
			}
			if !late && rng.IntN(tail) < planted {
				add(1_000_000 + uint64(rng.IntN(planted)))
				continue
			}
			add(uint64(rng.IntN(tail)))
		}
		checkBound(t, tk, exact)
		top := tk.Top(planted)
		for _, e := range top {
			if e.Key < 1_000_000 {
				t.Errorf("top %d holds tail key %d (count %d, err %d)", planted, e.Key, e.Count, e.Err)
			}
		}
	})

	t.Run("label values by series", func(t *testing.T) {
		tr := NewTracker(TrackerOptions{TopLabelValues: 200})
		exact := map[LabelValue]uint64{}
		rng := rand.New(rand.NewPCG(23, 24))
		hot := []string{"/api/v1/export", "/api/v1/search", "/internal/batch"}
		for i := range 60000 {
			path := fmt.Sprintf("/item/%d", rng.IntN(20000))
			if i > 30000 && rng.IntN(4) == 0 {
				path = hot[rng.IntN(len(hot))]
			}
			ls := lbls("__name__", "http_requests", "path", path, "id", fmt.Sprint(i))
			tr.SeriesCreated(ls, ls.Hash())
			for l := range ls.All() {
				if l.Name != "__name__" {
					exact[LabelValue{Metric: "http_requests", Name: l.Name, Value: l.Value}]++
				}
			}
		}
		top := tr.TopLabelValues(len(hot))
		found := map[string]bool{}
		for _, e := range top {
			found[e.Key.Value] = true
			if e.Key.Name != "path" {
				t.Errorf("top value %v is not a planted path", e.Key)
			}
			if x := exact[e.Key]; e.Lower() > x || x > e.Count {
				t.Errorf("%v: count %d err %d, true %d", e.Key, e.Count, e.Err, x)
			}
		}
		for _, h := range hot {
			if !found[h] {
				t.Errorf("planted value %q not in the top %d: %v", h, len(hot), top)
			}
		}
		for _, e := range tr.TopLabelValues(0) {
			if x := exact[e.Key]; e.Lower() > x || x > e.Count {
				t.Fatalf("%v: count %d err %d, true %d", e.Key, e.Count, e.Err, x)
			}
		}
	})
}

// TestTopKMerge: two summaries of two halves merged keep the bound
// against the exact counts of the whole stream.
func TestTopKMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	a, b := NewTopK[int](50), NewTopK[int](50)
	exact := map[int]uint64{}
	for i := range 100000 {
		k := int(rng.ExpFloat64() * 40) // a skewed stream
		if i%2 == 0 {
			a.Add(k, 1)
		} else {
			b.Add(k, 1)
		}
		exact[k]++
	}
	a.Merge(b)
	if a.Len() > 50 {
		t.Fatalf("merged summary has %d counters", a.Len())
	}
	checkBound(t, a, exact)
}

// TestTopKWeighted: weights count like that many unit adds.
func TestTopKWeighted(t *testing.T) {
	tk := NewTopK[string](2)
	tk.Add("a", 5)
	tk.Add("b", 3)
	if ins, ev, did := tk.Add("c", 1); !ins || !did || ev != "b" {
		t.Fatalf("adding c: inserted %v evicted %q %v, want b evicted", ins, ev, did)
	}
	e, _ := tk.Get("c")
	if e.Count != 4 || e.Err != 3 {
		t.Fatalf("c: %+v, want count 4 err 3", e)
	}
	if top := tk.Top(1); top[0].Key != "a" || top[0].Count != 5 {
		t.Fatalf("top: %+v", top)
	}
}

func lbls(nv ...string) model.Labels { return model.MustFromStrings(nv...) }
