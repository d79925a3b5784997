package tsdb

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// TestMergeEntries merges up to 100 sorted source lists and checks the
// result against a map: every label set with chunks once, in order, with
// the chunks of all its sources sorted by time, each listed by its own
// source's function; a series without chunks in any source is left out.
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
				var cs []chunkSrc
				if s%7 != 3 { // series 3, 10, 17, 24 have no chunks anywhere
					cs = []chunkSrc{{minT: minT, maxT: minT + 10, ref: chunks.Ref(li)}}
					want[ls.String()] = append(want[ls.String()], minT)
				}
				lists[li] = append(lists[li], entry{lset: ls, chunks: cs})
			}
		}
		got := mergeEntries(lists, func(i int, e *entry, dst []chunkSrc) []chunkSrc {
			for _, c := range e.chunks {
				if c.ref != chunks.Ref(i) {
					t.Fatalf("%d lists: chunk of list %d listed as list %d's", nLists, c.ref, i)
				}
			}
			return append(dst, e.chunks...)
		})
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

// TestSortByLabels checks the head's key sort against sort.SliceStable with
// model.Labels.Compare, on label sets built from strings chosen to meet the
// encoding's edge cases: 0 and 255 bytes, strings that extend others,
// label sets that extend others, long shared prefixes (the 8-byte integer
// step), and sets that differ only in a name.
func TestSortByLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	strs := []string{"a", "a\x00", "a\x00\x00", "a\x01", "a\xff", "ab", "b", "\x00", "\xff", "\x00\xff", "long-shared-prefix-1", "long-shared-prefix-10", "long-shared-prefix-2"}
	names := []string{"__name__", "a", "a\x00", "b", "job", "long-shared-prefix-1"}
	for round := range 300 {
		n := rng.IntN(40)
		seen := map[string]bool{}
		var es []entry
		for len(es) < n {
			var kv []model.Label
			for _, name := range names {
				if rng.IntN(3) > 0 {
					kv = append(kv, model.Label{Name: name, Value: strs[rng.IntN(len(strs))]})
				}
			}
			if len(kv) == 0 {
				continue
			}
			ls, err := model.New(kv...)
			if err != nil {
				t.Fatal(err)
			}
			if seen[ls.String()] { // head series are unique
				continue
			}
			seen[ls.String()] = true
			es = append(es, entry{lset: ls, chunks: []chunkSrc{{minT: int64(len(es))}}})
		}
		want := append([]entry(nil), es...)
		sort.SliceStable(want, func(i, j int) bool { return want[i].lset.Compare(want[j].lset) < 0 })
		got := sortByLabels(es)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d entries, want %d", round, len(got), len(want))
		}
		for i := range want {
			if !got[i].lset.Equal(want[i].lset) || got[i].chunks[0].minT != want[i].chunks[0].minT {
				t.Fatalf("round %d, position %d: %q, want %q", round, i, got[i].lset, want[i].lset)
			}
		}
	}
}
