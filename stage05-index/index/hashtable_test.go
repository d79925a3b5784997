package index

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHashTableOracle runs random adds, removals and lookups on a
// hashTable and on a map from hash to IDs side by side. Hashes come from a
// small set whose low bits are mostly equal (long probe chains, wrapping
// around the end of a shard), several IDs share a hash (collisions), and
// hash 0 is among them.
func TestHashTableOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tab hashTable
	want := map[uint64][]SeriesID{}
	next := SeriesID(0)
	hash := func() uint64 {
		k := rng.Uint64N(2000)
		if k == 0 {
			return 0
		}
		// Top bits pick one of two shards; the low bits repeat.
		return (k%2)<<60 | k<<24 | (k%5)*0xffffff
	}
	for i := range 40_000 {
		h := hash()
		switch op := rng.IntN(10); {
		case op < 5:
			tab.add(h, next)
			want[h] = append(want[h], next)
			next++
		case op < 8:
			if ids := want[h]; len(ids) > 0 {
				id := ids[rng.IntN(len(ids))]
				tab.del(h, id)
				want[h] = slices.DeleteFunc(ids, func(x SeriesID) bool { return x == id })
			} else {
				tab.del(h, next+1) // absent: nothing happens
			}
		default:
			ids := want[h]
			for _, id := range ids {
				got, ok := tab.find(h, func(x SeriesID) bool { return x == id })
				if !ok || got != id {
					t.Fatalf("op %d: find(%x, %d) = %d, %v", i, h, id, got, ok)
				}
			}
			if _, ok := tab.find(h, func(x SeriesID) bool { return !slices.Contains(ids, x) }); ok {
				t.Fatalf("op %d: find(%x) matched an ID never added under it", i, h)
			}
		}
	}
	n := 0
	for _, ids := range want {
		n += len(ids)
	}
	if tab.len() != n {
		t.Fatalf("len %d, want %d", tab.len(), n)
	}
}
