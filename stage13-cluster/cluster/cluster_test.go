package cluster

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// testCluster is several nodes in this process, each with its own stage06
// DB in a temp dir, its own HTTP listener and gossip on 127.0.0.1.
type testCluster struct {
	t     *testing.T
	rf    int
	base  string
	nodes map[string]*Node
	opts  func(*Config)
}

func (c *testCluster) config(id string) Config {
	cfg := Config{
		ID: id, DataDir: filepath.Join(c.base, id), Replication: c.rf,
		Gossip:         fastGossip(Meta{}),
		FailureTimeout: time.Second,
		RingInterval:   50 * time.Millisecond,
		WriteTimeout:   10 * time.Second,
	}
	for _, n := range c.nodes {
		cfg.Gossip.Seeds = append(cfg.Gossip.Seeds, n.Gossip())
		break
	}
	if c.opts != nil {
		c.opts(&cfg)
	}
	return cfg
}

func (c *testCluster) start(id string) *Node {
	c.t.Helper()
	n, err := Start(c.config(id))
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[id] = n
	return n
}

func newCluster(t *testing.T, n, rf int, opts func(*Config)) *testCluster {
	c := &testCluster{t: t, rf: rf, base: t.TempDir(), nodes: map[string]*Node{}, opts: opts}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			_ = n.Close()
		}
	})
	for i := 1; i <= n; i++ {
		c.start(fmt.Sprintf("node-%d", i))
	}
	c.waitRing()
	return c
}

// waitRing waits until every running node's ring is exactly the running
// nodes, every node has healed towards it and sees the others ACTIVE.
func (c *testCluster) waitRing() {
	c.t.Helper()
	var want []string
	for id := range c.nodes {
		want = append(want, id)
	}
	eventually(c.t, 90*time.Second, fmt.Sprintf("every node's ring is %v and healed", want), func() bool {
		for _, n := range c.nodes {
			if len(ringIDs(n.Placement())) != len(want) || !n.Healed() {
				return false
			}
			for _, m := range n.Members() {
				if m.Health == Alive && m.State == Joining {
					return false // push-down skips a node until it is seen ACTIVE
				}
			}
		}
		return true
	})
}

func (c *testCluster) any() *Node {
	for _, n := range c.nodes {
		return n
	}
	return nil
}

// kill crashes a node (no goodbye) and forgets it here.
func (c *testCluster) kill(id string) {
	if err := c.nodes[id].Kill(); err != nil {
		c.t.Fatal(err)
	}
	delete(c.nodes, id)
}

// checker is the Jepsen-style history: every acknowledged sample, to be
// found exactly once afterwards, and nothing never written.
type checker struct {
	mu      sync.Mutex
	acked   map[string]map[int64]float64 // series → t → v
	written map[string]map[int64]float64 // attempted (acked or not)
}

func newChecker() *checker {
	return &checker{acked: map[string]map[int64]float64{}, written: map[string]map[int64]float64{}}
}

func (k *checker) record(series []remote.Series, acked bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range series {
		key := s.Labels.String()
		for _, m := range []map[string]map[int64]float64{k.written, k.acked} {
			if m[key] == nil {
				m[key] = map[int64]float64{}
			}
		}
		for _, p := range s.Samples {
			k.written[key][p.T] = p.V
			if acked {
				k.acked[key][p.T] = p.V
			}
		}
	}
}

// check reads everything through node n's query path and compares.
func (k *checker) check(t *testing.T, n *Node) (checked int) {
	t.Helper()
	st := n.Storage()
	ss := st.Select(context.Background(), math.MinInt64/2, math.MaxInt64/2)
	got := map[string]map[int64]int{}
	for ss.Next() {
		s := ss.At()
		key := s.Labels().String()
		got[key] = map[int64]int{}
		it := s.Iterator()
		for it.Next() {
			ts, v := it.At()
			got[key][ts]++
			if w, ok := k.written[key][ts]; !ok || w != v {
				t.Fatalf("%s at %d: read %v, never written", key, ts, v)
			}
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	for key, pts := range k.acked {
		for ts := range pts {
			if got[key][ts] != 1 {
				t.Fatalf("through %s: acknowledged sample %s@%d read %d times, want once", n.ID(), key, ts, got[key][ts])
			}
			checked++
		}
	}
	return checked
}

func genSeries(n, samples int, t0 int64, seed int) []remote.Series {
	out := make([]remote.Series, n)
	for i := range out {
		out[i].Labels = model.MustFromStrings("__name__", "cpu_usage", "host", fmt.Sprintf("server%d", i), "dc", fmt.Sprintf("dc%d", i%3))
		for k := 0; k < samples; k++ {
			out[i].Samples = append(out[i].Samples, model.Sample{T: t0 + int64(k)*10_000, V: float64(seed*1_000_000 + i*100 + k)})
		}
	}
	return out
}

func writeAll(t *testing.T, n *Node, k *checker, series []remote.Series, batch int) {
	t.Helper()
	for i := 0; i < len(series); i += batch {
		b := series[i:min(i+batch, len(series))]
		_, err := n.Write(context.Background(), b)
		k.record(b, err == nil)
		if err != nil {
			t.Fatalf("write through %s: %v", n.ID(), err)
		}
	}
}

// holders counts, per series, the nodes whose own storage has all of its
// acknowledged samples.
func holders(t *testing.T, c *testCluster, k *checker) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range c.nodes {
		ss, _, err := readLocal(n.DB(), tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			key := s.Labels.String()
			have := map[int64]bool{}
			for _, p := range s.Samples {
				have[p.T] = true
			}
			all := true
			for ts := range k.acked[key] {
				all = all && have[ts]
			}
			if all {
				out[key]++
			}
		}
	}
	return out
}
