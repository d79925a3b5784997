package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// faults is a schedule of network faults shared by every node's
// transport: each node-to-node call is, by a seeded draw, dropped before
// it arrives, delivered but reported failed (the sender retries or hints
// what already landed: a duplicate), delayed (calls overtake each other:
// reordering), or cut by a partition between two groups of nodes.
type faults struct {
	mu        sync.Mutex
	rng       *rand.Rand
	on        bool
	drop      float64
	lostReply float64
	delay     float64
	partition map[string]int // node → side; calls across sides fail
	counts    map[string]int
}

func (f *faults) draw(from, to string) (deliver, fail bool, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return true, false, 0
	}
	if f.partition != nil && f.partition[from] != f.partition[to] {
		f.counts["partition"]++
		return false, true, 0
	}
	x := f.rng.Float64()
	switch {
	case x < f.drop:
		f.counts["drop"]++
		return false, true, 0
	case x < f.drop+f.lostReply:
		f.counts["duplicate"]++
		return true, true, 0
	case x < f.drop+f.lostReply+f.delay:
		f.counts["delay"]++
		return true, false, time.Duration(f.rng.IntN(20)) * time.Millisecond
	}
	return true, false, 0
}

type faultTransport struct {
	self string
	f    *faults
	next Transport
}

func (t faultTransport) Write(ctx context.Context, to Meta, s []remote.Series) error {
	deliver, fail, wait := t.f.draw(t.self, to.ID)
	if wait > 0 {
		time.Sleep(wait) // a slow network, not synchronisation
	}
	if deliver {
		if err := t.next.Write(ctx, to, s); err != nil {
			return err
		}
	}
	if fail {
		return fmt.Errorf("%w: injected fault %s→%s", ErrNodeUnavailable, t.self, to.ID)
	}
	return nil
}

func (t faultTransport) Read(ctx context.Context, to Meta, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error) {
	if deliver, _, _ := t.f.draw(t.self, to.ID); !deliver {
		return nil, fmt.Errorf("%w: injected fault %s→%s", ErrNodeUnavailable, t.self, to.ID)
	}
	return t.next.Read(ctx, to, mint, maxt, ms)
}

// Property: under a random schedule of drops, duplicates, delays and a
// partition, every acknowledged write is, once the faults heal and the
// hints are replayed, on all RF=3 replicas and read back exactly once
// through every node, and nothing that was never written appears.
func TestFaultSchedules(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			f := &faults{rng: rand.New(rand.NewPCG(seed, 99)), counts: map[string]int{}}
			c := newCluster(t, 3, 3, func(cfg *Config) {
				cfg.FailureTimeout = time.Hour // faults are not failures: no ring change
				cfg.Transport = faultTransport{self: cfg.ID, f: f, next: NewHTTPTransport(10 * time.Second)}
			})
			k := newChecker()
			rng := rand.New(rand.NewPCG(seed, 7))
			ids := []string{"node-1", "node-2", "node-3"}
			acked, refused := 0, 0
			f.mu.Lock()
			f.on, f.drop, f.lostReply, f.delay = true, 0.1+0.1*rng.Float64(), 0.1*rng.Float64(), 0.2
			f.mu.Unlock()
			t0 := nowMs()
			for round := 0; round < scale(30, 3); round++ {
				if round == scale(10, 3) {
					// a partition: one node cut off from the other two
					f.mu.Lock()
					f.partition = map[string]int{ids[rng.IntN(3)]: 1}
					f.mu.Unlock()
				}
				if round == scale(20, 3) {
					f.mu.Lock()
					f.partition = nil
					f.mu.Unlock()
				}
				batch := genSeries(50, 1, t0+int64(round)*1000, int(seed)*100+round)
				_, err := c.nodes[ids[rng.IntN(3)]].Write(context.Background(), batch)
				k.record(batch, err == nil)
				if err == nil {
					acked++
				} else {
					refused++
				}
			}
			f.mu.Lock()
			f.on = false
			counts := fmt.Sprint(f.counts)
			f.mu.Unlock()
			for _, n := range c.nodes {
				n.dist.Wait()
			}
			why := ""
			defer func() {
				if t.Failed() {
					t.Log("last:", why)
				}
			}()
			eventually(t, 60*time.Second, "hints replayed and every acknowledged series on 3 replicas", func() bool {
				for _, n := range c.nodes {
					if len(n.hints.Nodes()) > 0 {
						why = fmt.Sprintf("%s has hints for %v", n.ID(), n.hints.Pending())
						return false
					}
				}
				h := holders(t, c, k)
				for key, pts := range k.acked {
					if len(pts) > 0 && h[key] != 3 {
						why = fmt.Sprintf("%s on %d replicas", key, h[key])
						return false
					}
				}
				return true
			})
			checked := 0
			for _, n := range c.nodes {
				checked += k.check(t, n)
			}
			if acked == 0 {
				t.Fatal("no write was acknowledged: the schedule tests nothing")
			}
			t.Logf("faults %s; writes acknowledged %d, refused %d; %d sample reads checked", counts, acked, refused, checked)
		})
	}
}
