package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

func nodesN(n int) []RingNode {
	out := make([]RingNode, n)
	for i := range out {
		out[i] = RingNode{ID: fmt.Sprintf("node-%d", i+1), Zone: fmt.Sprintf("zone-%c", 'a'+i%3)}
	}
	return out
}

// oracleGet is the guide's pseudo-code, written as plainly as possible: a
// sorted list of (token, node ID) pairs, walked from the first token at or
// after the hash, collecting distinct node IDs.
type vt struct {
	t  uint64
	id string
}

func oracleTokens(nodes []RingNode, vn int) []vt {
	var all []vt
	for _, n := range nodes {
		for i := 0; i < vn; i++ {
			all = append(all, vt{Token(n.ID, i), n.ID})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].t != all[j].t {
			return all[i].t < all[j].t
		}
		return all[i].id < all[j].id
	})
	return all
}

func oracleGet(all []vt, rf int, hash uint64) []string {
	start := sort.Search(len(all), func(i int) bool { return all[i].t >= hash })
	var out []string
	seen := map[string]bool{}
	for k := 0; k < len(all) && len(out) < rf; k++ {
		v := all[(start+k)%len(all)]
		if !seen[v.id] {
			seen[v.id] = true
			out = append(out, v.id)
		}
	}
	return out
}

func setIDs(r *Ring, s ReplicaSet) []string {
	var out []string
	for i := 0; i < s.Len(); i++ {
		out = append(out, r.Node(s.At(i)).ID)
	}
	return out
}

func TestRingMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ nodes, vn, rf int }{{1, 4, 1}, {1, 4, 3}, {2, 8, 2}, {3, 16, 2}, {5, 32, 3}, {7, 64, 5}, {20, 64, 3}} {
		nodes := nodesN(tc.nodes)
		// any order in: the ring sorts
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		r, err := NewRing(nodes, RingConfig{Replication: tc.rf, VirtualNodes: tc.vn})
		if err != nil {
			t.Fatal(err)
		}
		oracle := oracleTokens(nodes, tc.vn)
		hashes := []uint64{0, 1, ^uint64(0), Token("node-1", 0), Token("node-1", 0) + 1}
		for i := 0; i < 2000; i++ {
			hashes = append(hashes, rng.Uint64())
		}
		// Each token and its neighbours: the bounds of every arc, where
		// the lookup's bucket scan must stop exactly.
		for _, v := range oracle {
			hashes = append(hashes, v.t-1, v.t, v.t+1)
		}
		for _, h := range hashes {
			got := setIDs(r, r.Get(h))
			want := oracleGet(oracle, tc.rf, h)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%+v hash %x: got %v, oracle %v", tc, h, got, want)
			}
		}
	}
}

func TestRingErrors(t *testing.T) {
	for _, tc := range []struct {
		nodes []RingNode
		rf    int
		want  error
	}{
		{nodesN(3), 0, ErrBadReplication},
		{nodesN(3), MaxReplication + 1, ErrBadReplication},
		{[]RingNode{{ID: "a"}, {ID: "a"}}, 1, ErrDuplicateNode},
		{[]RingNode{{ID: ""}}, 1, ErrEmptyNodeID},
	} {
		if _, err := NewRing(tc.nodes, RingConfig{Replication: tc.rf}); !errors.Is(err, tc.want) {
			t.Errorf("NewRing(%v, rf %d): %v, want %v", tc.nodes, tc.rf, err, tc.want)
		}
	}
	r, err := NewRing(nil, RingConfig{Replication: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Get(42); s.Len() != 0 {
		t.Fatalf("empty ring gave %d nodes", s.Len())
	}
}

// Every node computes the same ring from the same members, whatever order
// gossip listed them in, and a node's tokens do not depend on the others.
func TestRingDeterministic(t *testing.T) {
	a, _ := NewRing(nodesN(4), RingConfig{Replication: 2})
	rev := nodesN(4)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b, _ := NewRing(rev, RingConfig{Replication: 2})
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		h := rng.Uint64()
		if fmt.Sprint(setIDs(a, a.Get(h))) != fmt.Sprint(setIDs(b, b.Get(h))) {
			t.Fatalf("hash %x: rings disagree", h)
		}
	}
	if Token("node-1", 7) != Token("node-1", 7) || Token("node-1", 7) == Token("node-2", 7) {
		t.Fatal("tokens not a function of the ID")
	}
}

// shares counts, over many random hashes, the fraction each node holds a
// replica of.
func shares(r *Ring, n int, seed uint64) map[string]float64 {
	rng := rand.New(rand.NewPCG(seed, seed))
	count := map[string]int{}
	for i := 0; i < n; i++ {
		s := r.Get(rng.Uint64())
		for k := 0; k < s.Len(); k++ {
			count[r.Node(s.At(k)).ID]++
		}
	}
	out := map[string]float64{}
	for id, c := range count {
		out[id] = float64(c) / float64(n)
	}
	return out
}

// Balance: with 256 tokens per node each node holds close to RF/N of the
// series.
func TestRingBalance(t *testing.T) {
	for nodes := 3; nodes <= 10; nodes++ {
		for _, rf := range []int{1, 2, 3} {
			r, _ := NewRing(nodesN(nodes), RingConfig{Replication: rf})
			ideal := float64(rf) / float64(nodes)
			for id, s := range shares(r, scale(100_000, 3), uint64(nodes)) {
				// 15 %: 256 random tokens have a spread near 6 %,
				// and the sample of hashes adds its own.
				if s < ideal*0.85 || s > ideal*1.15 {
					t.Errorf("%d nodes rf %d: %s holds %.3f, ideal %.3f", nodes, rf, id, s, ideal)
				}
			}
		}
	}
}

// Movement: adding a node moves about 1/(N+1) of the replicas, all of
// them to the new node; removing one moves only what it held.
func TestRingMovement(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 3; n <= 8; n++ {
		before, _ := NewRing(nodesN(n), RingConfig{Replication: 2})
		after, _ := NewRing(nodesN(n+1), RingConfig{Replication: 2})
		newID := nodesN(n + 1)[n].ID
		const samples = 50_000
		moved := 0
		for i := 0; i < samples; i++ {
			h := rng.Uint64()
			b, a := setIDs(before, before.Get(h)), setIDs(after, after.Get(h))
			inB := map[string]bool{}
			for _, id := range b {
				inB[id] = true
			}
			for _, id := range a {
				if !inB[id] {
					moved++
					if id != newID {
						t.Fatalf("join moved a replica of %x to %s, not to the new node", h, id)
					}
				}
			}
			// leave is the same pair read the other way round: what
			// moves off the departing node goes elsewhere, the rest stays
			for _, id := range b {
				found := false
				for _, x := range a {
					found = found || x == id
				}
				if !found && !contains(a, newID) {
					t.Fatalf("replica %s of %x dropped without the new node taking it", id, h)
				}
			}
		}
		frac := float64(moved) / (samples * 2)
		ideal := 1 / float64(n+1)
		if frac < ideal*0.8 || frac > ideal*1.2 {
			t.Errorf("%d→%d nodes: %.3f of replicas moved, ideal %.3f", n, n+1, frac, ideal)
		}
	}
}

func TestRingZones(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// 6 nodes in 3 zones, rf 3: one replica per zone, always.
	r, _ := NewRing(nodesN(6), RingConfig{Replication: 3, ZoneAware: true})
	for i := 0; i < 5000; i++ {
		s := r.Get(rng.Uint64())
		zones := map[string]bool{}
		for k := 0; k < s.Len(); k++ {
			zones[r.Node(s.At(k)).Zone] = true
		}
		if s.Len() != 3 || len(zones) != 3 {
			t.Fatalf("replica set %v spans zones %v", setIDs(r, s), zones)
		}
	}
	// 2 zones, rf 3: both zones used, three distinct nodes.
	two := []RingNode{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}, {"b2", "b"}}
	r, _ = NewRing(two, RingConfig{Replication: 3, ZoneAware: true})
	for i := 0; i < 5000; i++ {
		s := r.Get(rng.Uint64())
		zones := map[string]bool{}
		ids := map[string]bool{}
		for k := 0; k < s.Len(); k++ {
			zones[r.Node(s.At(k)).Zone] = true
			ids[r.Node(s.At(k)).ID] = true
		}
		if len(ids) != 3 || len(zones) != 2 {
			t.Fatalf("replica set %v: %d nodes, %d zones", setIDs(r, s), len(ids), len(zones))
		}
	}
}

func TestRingGetAllocs(t *testing.T) {
	r, _ := NewRing(nodesN(5), RingConfig{Replication: 3, ZoneAware: true})
	h := uint64(12345)
	if n := testing.AllocsPerRun(1000, func() { h = h*6364136223846793005 + 1; _ = r.Get(h) }); n != 0 {
		t.Fatalf("Get allocates %.1f times", n)
	}
}

func BenchmarkRingLookup(b *testing.B) {
	for _, n := range []int{3, 10, 100} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			r, _ := NewRing(nodesN(n), RingConfig{Replication: 3})
			rng := rand.New(rand.NewPCG(9, 9))
			hs := make([]uint64, 4096)
			for i := range hs {
				hs[i] = rng.Uint64()
			}
			b.ReportAllocs()
			b.ResetTimer()
			sum := 0
			for i := 0; i < b.N; i++ {
				sum += r.Get(hs[i&4095]).Len()
			}
			if sum != 3*b.N {
				b.Fatalf("lookups returned %d nodes, want %d", sum, 3*b.N)
			}
		})
	}
}
