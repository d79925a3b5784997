package tsdb

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestMergeEntries merges up to 100 sorted source lists (more than the 64
// one round handles) and checks the result against a map: every label set
// once, in order, with the chunks of all its sources sorted by time.
func TestMergeEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, nLists := range []int{0, 1, 2, 5, 64, 65, 100} {
		want := map[string][]int64{} // label set → chunk minTs
		lists := make([][]entry, nLists)
		for li := range lists {
			for s := range 30 {
				if rng.IntN(3) == 0 {
					continue
				}
				ls := model.MustFromStrings("__name__", "m", "s", fmt.Sprintf("%02d", s))
				minT := int64(li*1000 + rng.IntN(500))
				lists[li] = append(lists[li], entry{lset: ls, chunks: []chunkSrc{{minT: minT, maxT: minT + 10}}})
				want[ls.String()] = append(want[ls.String()], minT)
			}
		}
		got := mergeEntries(lists)
		if len(got) != len(want) {
			t.Fatalf("%d lists: %d series, want %d", nLists, len(got), len(want))
		}
		for i, e := range got {
			if i > 0 && got[i-1].lset.Compare(e.lset) >= 0 {
				t.Fatalf("%d lists: not sorted at %d", nLists, i)
			}
			w := want[e.lset.String()]
			sort.Slice(w, func(a, b int) bool { return w[a] < w[b] })
			if len(e.chunks) != len(w) {
				t.Fatalf("%d lists, %s: %d chunks, want %d", nLists, e.lset, len(e.chunks), len(w))
			}
			for k := range w {
				if e.chunks[k].minT != w[k] {
					t.Fatalf("%d lists, %s: chunk %d at %d, want %d", nLists, e.lset, k, e.chunks[k].minT, w[k])
				}
			}
		}
	}
}
