package cluster

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// TestPinnedSelector: with Pinned, a selector naming a whole series asks
// only the live members of its replica set and answers what the full
// fan-out answers; with one member of the set dead it asks the other, and
// with both dead it warns about that set. Other selectors still ask every
// live node.
func TestPinnedSelector(t *testing.T) {
	// A failure timeout longer than the test: the rings stay as they are.
	c := newCluster(t, 4, 2, func(cfg *Config) { cfg.FailureTimeout = time.Hour })
	k := newChecker()
	series := genSeries(40, 5, 1_000_000, 2)
	writeAll(t, c.any(), k, series, 40)

	n := c.nodes["node-1"]
	ring := n.Storage().Ring
	ownersOf := func(l model.Labels) map[string]bool {
		out := map[string]bool{}
		set := ring.Get(l.Hash())
		for i := 0; i < set.Len(); i++ {
			out[ring.Node(set.At(i)).ID] = true
		}
		return out
	}
	matchers := func(l model.Labels) []*index.Matcher {
		var ms []*index.Matcher
		for x := range l.All() {
			ms = append(ms, index.MustNewMatcher(index.MatchEqual, x.Name, x.Value))
		}
		return ms
	}
	// up: every node is running, whatever gossip suspects for a moment
	// on a loaded machine (the counts of nodes asked are the point here)
	up := true
	read := func(pinned bool, ms ...*index.Matcher) (map[string][]model.Sample, QueryStats, []string) {
		t.Helper()
		st := n.Storage()
		st.Pinned = pinned
		if up {
			for i := range st.Members {
				st.Members[i].Health = Alive
			}
		}
		out := map[string][]model.Sample{}
		ss := st.Select(context.Background(), math.MinInt64/2, math.MaxInt64/2, ms...)
		for ss.Next() {
			it := ss.At().Iterator()
			for it.Next() {
				ts, v := it.At()
				out[ss.At().Labels().String()] = append(out[ss.At().Labels().String()], model.Sample{T: ts, V: v})
			}
		}
		if err := ss.Err(); err != nil {
			t.Fatal(err)
		}
		return out, st.Stats(), st.Warnings()
	}

	// b: a series node-1 does not hold; a: one node-1 holds with one of
	// b's owners.
	var a, b model.Labels
	for _, s := range series {
		if o := ownersOf(s.Labels); !o["node-1"] {
			b = s.Labels
			break
		}
	}
	for _, s := range series {
		o := ownersOf(s.Labels)
		for id := range ownersOf(b) {
			if o["node-1"] && o[id] {
				a = s.Labels
			}
		}
	}
	if b.Len() == 0 || a.Len() == 0 {
		t.Fatal("no series placed as the test needs")
	}
	for _, target := range []model.Labels{a, b} {
		full, fst, _ := read(false, matchers(target)...)
		got, pst, ws := read(true, matchers(target)...)
		if fmt.Sprint(got) != fmt.Sprint(full) || len(got) != 1 || len(got[target.String()]) != 5 {
			t.Fatalf("pinned %v, full fan-out %v", got, full)
		}
		if fst.NodesAsked != 4 || pst.NodesAsked != 2 || pst.Pinned != 1 || len(ws) != 0 {
			t.Fatalf("asked %d nodes unpinned, %d (%v) pinned, warnings %v", fst.NodesAsked, pst.NodesAsked, pst.Asked, ws)
		}
		for _, id := range pst.Asked {
			if !ownersOf(target)[id] {
				t.Fatalf("pinned select asked %s, not an owner of %s", id, target)
			}
		}
	}
	// A regex, or a selector without a metric name, is not pinned.
	_, rst, _ := read(true, index.MustNewMatcher(index.MatchEqual, "__name__", "cpu_usage"), index.MustNewMatcher(index.MatchRegexp, "host", "server7"))
	_, hst, _ := read(true, index.MustNewMatcher(index.MatchEqual, "host", "server7"))
	if rst.NodesAsked != 4 || hst.NodesAsked != 4 || rst.Pinned+hst.Pinned != 0 {
		t.Fatalf("unpinnable selectors asked %d and %d nodes", rst.NodesAsked, hst.NodesAsked)
	}

	// b's owners die. The read ring keeps dead members (it names what a
	// result may lack), the fan-out skips them once gossip sees them dead.
	// A pinned select that finds nothing falls back to every live node.
	up = false
	var dead []string
	for id := range ownersOf(b) {
		c.kill(id)
		dead = append(dead, id)
	}
	eventually(t, 30*time.Second, "the killed owners are seen dead", func() bool {
		for _, m := range n.Members() {
			if slices.Contains(dead, m.ID) && m.Health == Alive {
				return false
			}
		}
		return true
	})
	want, _, _ := read(false, matchers(a)...)
	got, pst, ws := read(true, matchers(a)...)
	if len(got[a.String()]) != 5 || fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(pst.Asked) != "[node-1]" || len(ws) != 0 {
		t.Fatalf("one owner of %s dead: %v, asked %v, warnings %v", a, got, pst.Asked, ws)
	}
	got, pst, ws = read(true, matchers(b)...)
	wantWarn := "partial result: no live member in replica set(s) " + setKey(ring, ring.Get(b.Hash()))
	if len(got) != 0 || pst.Pinned != 1 || pst.Fallbacks != 1 || pst.NodesAsked < 1 || len(ws) != 1 || ws[0] != wantWarn {
		t.Fatalf("both owners of %s dead: %v, asked %v, warnings %v", b, got, pst.Asked, ws)
	}
}
