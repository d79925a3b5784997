package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestValueTable: random inserts and deletes (growth, deleted slots reused
// and cleared) against a map, checking get, len and each after every step.
func TestValueTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var pt pairTable
	var vt valueTable
	oracle := map[string]uint32{}
	for step := range 20_000 {
		v := fmt.Sprint("v", rng.IntN(3000))
		if r, ok := oracle[v]; ok && rng.IntN(3) == 0 {
			vt.del(&pt, v)
			delete(oracle, v)
			_ = r
		} else if !ok {
			slot, h, found := vt.find(&pt, v)
			if found {
				t.Fatalf("step %d: %q found before it was inserted", step, v)
			}
			r := pt.add(pair{value: v})
			vt.insertAt(&pt, slot, h, r)
			oracle[v] = r
		} else {
			slot, _, found := vt.find(&pt, v)
			if !found || vt.slots[slot].ref-1 != oracle[v] {
				t.Fatalf("step %d: find(%q) = %d, %v; want ref %d", step, v, slot, found, oracle[v])
			}
		}
		if vt.len() != len(oracle) {
			t.Fatalf("step %d: len %d, want %d", step, vt.len(), len(oracle))
		}
		if step%997 == 0 {
			var refs []uint32
			vt.each(func(r uint32) { refs = append(refs, r) })
			var want []uint32
			for _, r := range oracle {
				want = append(want, r)
			}
			slices.Sort(refs)
			slices.Sort(want)
			if !slices.Equal(refs, want) {
				t.Fatalf("step %d: each gave %d refs, want %d", step, len(refs), len(want))
			}
			for w, r := range oracle {
				if got, ok := vt.get(&pt, w); !ok || got != r {
					t.Fatalf("step %d: get(%q) = %d, %v; want %d", step, w, got, ok, r)
				}
			}
			if _, ok := vt.get(&pt, "absent"); ok {
				t.Fatalf("step %d: an absent value found", step)
			}
		}
	}
	if 4*vt.used > 3*len(vt.slots) {
		t.Fatalf("table over 3/4 full: %d of %d slots used", vt.used, len(vt.slots))
	}
}
