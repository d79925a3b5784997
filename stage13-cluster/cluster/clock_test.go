package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// fakeClock is time a test moves by hand: After fires at once and moves
// the clock on by the wait, so a rate bound's waits add up to the fake
// time that passed, whatever the machine's speed.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestHealRateOnFakeClock: healing keeps to its rate by the clock it is
// given: streaming 40,000 samples at 10,000/s takes the fake clock 3 to 4
// seconds (the last batch goes without waiting for its own share), in
// waits the pass asked for, not time the machine spent; without a rate it
// never waits.
func TestHealRateOnFakeClock(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n, per = 2000, 20
	if _, err := appendLocal(db, genSeries(n, per, time.Now().Add(-time.Hour).UnixMilli(), 1)); err != nil {
		t.Fatal(err)
	}
	from, _ := NewRing([]RingNode{{ID: "a"}}, RingConfig{Replication: 1})
	to, _ := NewRing([]RingNode{{ID: "a"}, {ID: "b"}}, RingConfig{Replication: 2})
	pl := Placement{Ring: to, Nodes: []Meta{{ID: "a"}, {ID: "b"}}}
	for _, rate := range []int{10_000, 0} {
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		f := newFake()
		st, err := healPass(context.Background(), "a", db, Placement{Ring: from, Nodes: []Meta{{ID: "a"}}}, pl, f,
			healOptions{rate: rate, now: clk.Now, after: clk.After}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.Samples != n*per {
			t.Fatalf("rate %d: streamed %d samples, want %d", rate, st.Samples, n*per)
		}
		elapsed := clk.Now().Sub(time.Unix(1e9, 0))
		if rate == 0 {
			if len(clk.waits) != 0 {
				t.Fatalf("no rate, yet waited %v", clk.waits)
			}
			continue
		}
		if elapsed < 3*time.Second || elapsed > 4*time.Second || len(clk.waits) == 0 {
			t.Fatalf("rate %d: %d samples took %v of fake time in %d waits, want 3-4 s", rate, st.Samples, elapsed, len(clk.waits))
		}
	}
}

// TestFailureTimeoutOnFakeClock: a dead node keeps its place in the ring
// until it has been dead FailureTimeout by the node's clock, and one that
// is leaving loses it at once.
func TestFailureTimeoutOnFakeClock(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	n := &Node{cfg: Config{Replication: 2, FailureTimeout: 30 * time.Second, Now: clk.Now}}
	died := clk.Now()
	members := []Member{
		{Meta: Meta{ID: "a", State: Active}, Health: Alive, Since: died.Add(-time.Hour)},
		{Meta: Meta{ID: "b", State: Active}, Health: Dead, Since: died},
		{Meta: Meta{ID: "c", State: Active}, Health: Alive, Since: died.Add(-time.Hour)},
		{Meta: Meta{ID: "d", State: Leaving}, Health: Alive, Since: died.Add(-time.Hour)},
	}
	for _, c := range []struct {
		after time.Duration
		want  []string
	}{
		{0, []string{"a", "b", "c"}},
		{30*time.Second - time.Millisecond, []string{"a", "b", "c"}},
		{time.Millisecond, []string{"a", "c"}},
	} {
		clk.Advance(c.after)
		if got := ringIDs(n.ownersPlacement(members, n.cfg.Now())); !slices.Equal(got, c.want) {
			t.Fatalf("%v after the death: ring %v, want %v", clk.Now().Sub(died), got, c.want)
		}
	}
}
