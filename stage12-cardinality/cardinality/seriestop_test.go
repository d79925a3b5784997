package cardinality

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestSeriesTop: the tracker's specialised summary keeps Space-Saving's
// guarantees on a skewed stream with constant evictions, counts exactly
// what the generic TopK counts for the same stream (the same algorithm:
// same total, same multiset of counts), finds every key through its
// probing table after thousands of evictions (keys chosen to collide in
// the table's low bits), and keeps each key's labels with its counter.
func TestSeriesTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const k = 20
	st, g := newSeriesTop(k), NewTopK[uint64](k)
	exact := map[uint64]uint64{}
	labels := map[uint64]model.Labels{}
	for i := range 200_000 {
		var key uint64
		if i%3 == 0 {
			key = uint64(rng.IntN(8)) << 40 // heavy; low bits all zero: one probe run
		} else {
			key = uint64(rng.IntN(5000))<<8 | uint64(rng.IntN(4)) // tail, crowding few homes
		}
		if _, ok := labels[key]; !ok {
			labels[key] = model.MustFromStrings("k", fmt.Sprint(key))
		}
		st.Add(key, labels[key])
		g.Add(key, 1)
		exact[key]++
	}
	if st.Total() != g.Total() {
		t.Fatalf("total %d, TopK %d", st.Total(), g.Total())
	}
	top, gtop := st.Top(), g.Top(0)
	if len(top) != k || len(gtop) != k {
		t.Fatalf("%d and %d entries, want %d", len(top), len(gtop), k)
	}
	for i := range top {
		if top[i].Count != gtop[i].Count {
			t.Fatalf("entry %d: count %d, TopK %d", i, top[i].Count, gtop[i].Count)
		}
	}
	n := st.Total()
	for _, e := range top {
		if tr := exact[e.Key]; e.Lower() > tr || tr > e.Count {
			t.Fatalf("%#x: count %d err %d, true %d", e.Key, e.Count, e.Err, tr)
		}
		if got, ok := st.Get(e.Key); !ok || got != e {
			t.Fatalf("Get(%#x) = %+v %v, want %+v", e.Key, got, ok, e)
		}
		if !st.Labels(e.Key).Equal(labels[e.Key]) {
			t.Fatalf("%#x has labels %s, want %s", e.Key, st.Labels(e.Key), labels[e.Key])
		}
	}
	for key, c := range exact {
		_, ok := st.Get(key)
		if c > n/k && !ok {
			t.Fatalf("%#x seen %d > N/k times has no counter", key, c)
		}
	}
	// The table holds exactly the counted keys.
	used := 0
	for _, s := range st.index {
		if s.slot != 0 {
			used++
		}
	}
	if used != k {
		t.Fatalf("index holds %d keys, want %d", used, k)
	}
	// Restore and Merge keep the labels.
	c := newSeriesTop(k)
	c.Restore(st.Total(), top, st.Labels)
	c.Merge(st)
	for _, e := range c.Top() {
		if !c.Labels(e.Key).Equal(labels[e.Key]) {
			t.Fatalf("after merge %#x has labels %s", e.Key, c.Labels(e.Key))
		}
	}
	if c.Total() != 2*n {
		t.Fatalf("merged total %d, want %d", c.Total(), 2*n)
	}
}
