package tsdb

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestSortHead: the head's sort through the remembered order (headOrder)
// gives the order of model.Labels.Compare for selections that overlap the
// ranked result in every way: the same series (no rebuild), a subset, a
// subset plus series created after it (merged in), mostly new series (a
// rebuild), and small ones (no table).
func TestSortHead(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	db := &DB{head: &Head{}}
	const n = 6000
	// IDs in arrival order, labels in an unrelated order, with values that
	// extend others and share prefixes.
	all := make([]model.Labels, n)
	for id := range all {
		all[id] = model.MustFromStrings("__name__", "m", "a", fmt.Sprint(rng.IntN(50)), "b", fmt.Sprintf("v%d", rng.IntN(1000)), "id", fmt.Sprint(id))
	}
	pick := func(lo, hi int, frac float64) ([]entry, []uint32) {
		var es []entry
		var ids []uint32
		for _, id := range rng.Perm(hi - lo) {
			if rng.Float64() < frac {
				es = append(es, entry{lset: all[lo+id], chunks: make([]chunkSrc, 1)})
				ids = append(ids, uint32(lo+id))
			}
		}
		return es, ids
	}
	check := func(name string, es []entry, ids []uint32) {
		t.Helper()
		got := db.sortHead(es, ids)
		if len(got) != len(es) {
			t.Fatalf("%s: %d entries, want %d", name, len(got), len(es))
		}
		for i := 1; i < len(got); i++ {
			if got[i-1].lset.Compare(got[i].lset) >= 0 {
				t.Fatalf("%s: not sorted at %d: %s then %s", name, i, got[i-1].lset, got[i].lset)
			}
		}
	}
	es, ids := pick(0, 4000, 1)
	check("first", es, ids)
	table := db.headOrder.Load()
	if table == nil {
		t.Fatal("no order remembered")
	}
	es, ids = pick(0, 4000, 1)
	check("same series", es, ids)
	if db.headOrder.Load() != table {
		t.Error("the same selection rebuilt the order")
	}
	es, ids = pick(0, 4000, 0.5)
	check("subset", es, ids)
	es, ids = pick(0, 4300, 0.9) // about 7 % created since
	check("subset + new", es, ids)
	if db.headOrder.Load() != table {
		t.Error("a few new series rebuilt the order")
	}
	es, ids = pick(2000, n, 1)
	check("mostly new", es, ids)
	if db.headOrder.Load() == table {
		t.Error("mostly new series did not rebuild the order")
	}
	es, ids = pick(0, n, 1)
	check("all", es, ids)
	es, ids = pick(0, n, 0.05)
	check("small", es, ids)
}
