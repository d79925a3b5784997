package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage11-ingest/remote"
)

// world is a membership the test decides: every node sees the same
// members, whose health changes only when the test says so, at the time
// of the test's clock. No gossip, no probe, no timer: failure detection
// happens at the instant the test chooses.
type world struct {
	mu       sync.Mutex
	now      func() time.Time
	members  map[string]*Member
	onChange map[string]func()
}

func newWorld(now func() time.Time) *world {
	return &world{now: now, members: map[string]*Member{}, onChange: map[string]func(){}}
}

// join is a Config.Join: the node is a live member at once (a node that
// comes back takes its new address).
func (w *world) join(cfg MembershipConfig) (Gossiper, error) {
	id := cfg.Meta.ID
	w.mu.Lock()
	w.members[id] = &Member{Meta: cfg.Meta, Health: Alive, Since: w.now()}
	w.onChange[id] = cfg.OnChange
	w.mu.Unlock()
	w.changed()
	return &scripted{w: w, id: id}, nil
}

// set is the test's verdict on a node's health, as of now.
func (w *world) set(id string, h Health) {
	w.mu.Lock()
	m := w.members[id]
	m.Health, m.Since = h, w.now()
	w.mu.Unlock()
	w.changed()
}

func (w *world) changed() {
	w.mu.Lock()
	var fns []func()
	for _, f := range w.onChange {
		if f != nil {
			fns = append(fns, f)
		}
	}
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// scripted is one node's view of the world.
type scripted struct {
	w  *world
	id string
}

func (s *scripted) Addr() string { return "scripted/" + s.id }

func (s *scripted) Self() Meta {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.members[s.id].Meta
}

func (s *scripted) SetState(st State, _ time.Duration) error {
	s.w.mu.Lock()
	s.w.members[s.id].State = st
	s.w.mu.Unlock()
	s.w.changed()
	return nil
}

func (s *scripted) Members() []Member {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	out := make([]Member, 0, len(s.w.members))
	for _, m := range s.w.members {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (s *scripted) Leave(time.Duration) error {
	s.w.mu.Lock()
	m := s.w.members[s.id]
	m.State, m.Health, m.Since = Leaving, Left, s.w.now()
	s.w.mu.Unlock()
	s.w.changed()
	return nil
}

// Close stops the node's notifications; what the others see of it is the
// test's to decide (a crash is seen only when the test sets it Dead).
func (s *scripted) Close() error {
	s.w.mu.Lock()
	delete(s.w.onChange, s.id)
	s.w.mu.Unlock()
	return nil
}

// TestScriptedFailover: an in-process cluster whose membership and clock
// the test drives, so every time-dependent decision of a failover is made
// at a time the test chose, whatever the machine's speed. 3 nodes, RF=2;
// node-2 crashes and is declared dead at fake time T. Until T+FailureTimeout
// (to the millisecond) it keeps its place in the ring: writes to its
// replica sets fail for want of a quorum (hints kept for it), the others
// succeed. From T+FailureTimeout the ring is node-1 and node-3, healing
// re-replicates, and every write succeeds. When node-2 comes back its
// hints are replayed, and every acknowledged sample reads once through
// every node.
func TestScriptedFailover(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	w := newWorld(clk.Now)
	const timeout = 10 * time.Second
	c := newCluster(t, 3, 2, func(cfg *Config) {
		cfg.Join, cfg.Now, cfg.FailureTimeout = w.join, clk.Now, timeout
	})
	k := newChecker()
	n1, n3 := c.nodes["node-1"], c.nodes["node-3"]
	series := 300
	if raceEnabled {
		series = 60
	}
	writeAll(t, n1, k, genSeries(series, 2, nowMs()-60_000, 1), 100)

	c.kill("node-2")
	w.set("node-2", Dead)
	ring := func(want ...string) {
		t.Helper()
		for _, n := range []*Node{n1, n3} {
			n.refresh() // what the node's loop does, now, on the test's clock
			if got := ringIDs(n.Placement()); !slices.Equal(got, want) {
				t.Fatalf("%v after the death: %s's ring %v, want %v", clk.Now().Sub(time.Unix(1e9, 0)), n.ID(), got, want)
			}
		}
	}
	ring("node-1", "node-2", "node-3")
	// Dead, not yet past the timeout: a write is refused exactly when its
	// replica set holds node-2 (quorum 2 of 2), and node-2 gets a hint.
	refused := 0
	for _, s := range genSeries(series, 1, nowMs()-30_000, 2) {
		set := n1.Placement().Ring.Get(s.Labels.Hash())
		withDead := set.Contains(n1.Placement().Ring.Index("node-2"))
		_, err := n1.Write(context.Background(), []remote.Series{s})
		k.record([]remote.Series{s}, err == nil)
		if withDead != errors.Is(err, ErrNoQuorum) {
			t.Fatalf("%s on %v: %v", s.Labels, setIDs(n1.Placement().Ring, set), err)
		}
		if withDead {
			refused++
		}
	}
	if refused == 0 || n1.hints.Pending()["node-2"] == 0 {
		t.Fatalf("%d writes refused, %d bytes of hints for node-2", refused, n1.hints.Pending()["node-2"])
	}
	clk.Advance(timeout - time.Millisecond)
	ring("node-1", "node-2", "node-3")
	clk.Advance(time.Millisecond)
	ring("node-1", "node-3")
	c.waitRing() // healed towards the ring without node-2
	writeAll(t, n3, k, genSeries(series, 1, nowMs()-20_000, 3), 100)
	for _, n := range []*Node{n1, n3} {
		t.Logf("with node-2 dead: %d acknowledged samples read once through %s", k.check(t, n), n.ID())
	}

	clk.Advance(time.Minute)
	c.start("node-2")
	c.waitRing()
	eventually(t, 60*time.Second, "node-2's hints replayed", func() bool {
		return len(n1.hints.Pending()) == 0
	})
	for _, n := range c.nodes {
		n.dist.Wait()
		t.Logf("node-2 back: %d acknowledged samples read once through %s", k.check(t, n), n.ID())
	}
}
