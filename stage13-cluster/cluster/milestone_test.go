package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func nowMs() int64 { return time.Now().Add(-time.Hour).UnixMilli() }

// Milestone 1: writes distribute across nodes. With 3, 4 and 5 nodes the
// series per node are within ±10 % of the mean, and every series is on
// exactly RF nodes, the ones the ring names.
func TestMilestone1_WritesDistribute(t *testing.T) {
	for _, n := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			const rf = 2
			series := scale(3000, 2)
			// no failure expected: a node the loaded machine made
			// miss probes must not change the ring here
			c := newCluster(t, n, rf, func(cfg *Config) { cfg.FailureTimeout = time.Hour })
			k := newChecker()
			writeAll(t, c.any(), k, genSeries(series, 2, nowMs(), 1), 500)
			per := map[string]int{}
			where := map[string][]string{}
			for id, node := range c.nodes {
				ss, _, err := readLocal(node.DB(), -1<<62, 1<<62-1, nil)
				if err != nil {
					t.Fatal(err)
				}
				per[id] = len(ss)
				for _, s := range ss {
					where[s.Labels.String()] = append(where[s.Labels.String()], id)
				}
			}
			mean := float64(series*rf) / float64(n)
			for id, got := range per {
				if float64(got) < mean*0.9 || float64(got) > mean*1.1 {
					t.Errorf("%s holds %d series, mean %.0f: outside ±10 %%", id, got, mean)
				}
			}
			ring := c.any().Placement().Ring
			for _, s := range genSeries(series, 0, 0, 1) {
				got := where[s.Labels.String()]
				if len(got) != rf {
					t.Fatalf("%s on %d nodes %v, want %d", s.Labels, len(got), got, rf)
				}
				for _, id := range got {
					if !ring.Owns(id, s.Labels.Hash()) {
						t.Fatalf("%s on %s, which the ring does not name", s.Labels, id)
					}
				}
			}
			t.Logf("%d nodes: series per node %v (mean %.0f)", n, per, mean)
		})
	}
}

// Milestone 2: reads work with one node down. With RF=2 and RF=3 on three
// nodes, a node is killed (no goodbye) and every acknowledged sample is
// still answered, exactly once, through each survivor, before any healing
// (the failure timeout is long here).
func TestMilestone2_ReadsWithOneNodeDown(t *testing.T) {
	for _, rf := range []int{2, 3} {
		t.Run(fmt.Sprintf("rf=%d", rf), func(t *testing.T) {
			c := newCluster(t, 3, rf, func(cfg *Config) { cfg.FailureTimeout = time.Hour })
			k := newChecker()
			const samples = 3
			nser := scale(600, 3)
			writeAll(t, c.nodes["node-1"], k, genSeries(nser, samples, nowMs(), 2), 200)
			c.kill("node-2")
			for _, id := range []string{"node-1", "node-3"} {
				n := c.nodes[id]
				eventually(t, 60*time.Second, id+" sees node-2 dead", func() bool {
					for _, m := range n.Members() {
						if m.ID == "node-2" {
							return m.Health == Dead
						}
					}
					return false
				})
				checked := k.check(t, n)
				if checked != nser*samples {
					t.Fatalf("checked %d samples, want %d", checked, nser*samples)
				}
				if w := n.Storage().Warnings(); len(w) != 0 {
					t.Fatalf("warnings with a replica of each set alive: %v", w)
				}
			}
			// Writes: with RF=3 the quorum (2) holds with one node
			// down; with RF=2 the quorum is 2, so the replica sets
			// with node-2 refuse writes until the failure timeout
			// takes it out of the ring (milestone 3).
			more := genSeries(nser, 1, nowMs()+600_000, 3)
			if rf == 3 {
				writeAll(t, c.nodes["node-3"], k, more, 200)
			} else {
				_, err := c.nodes["node-3"].Write(context.Background(), more)
				k.record(more, err == nil)
				if !errors.Is(err, ErrNoQuorum) {
					t.Fatalf("RF=2, a replica down, failure timeout not passed: %v, want ErrNoQuorum", err)
				}
			}
			k.check(t, c.nodes["node-1"])
		})
	}
}

// With RF=2, two of three nodes down leaves some replica sets with no live
// member: the answer says so in a warning, or fails by option.
func TestPartialResultWarning(t *testing.T) {
	c := newCluster(t, 3, 2, func(cfg *Config) { cfg.FailureTimeout = time.Hour })
	k := newChecker()
	writeAll(t, c.nodes["node-1"], k, genSeries(100, 1, nowMs(), 4), 100)
	c.kill("node-2")
	c.kill("node-3")
	n := c.nodes["node-1"]
	eventually(t, 60*time.Second, "node-1 sees both dead", func() bool {
		dead := 0
		for _, m := range n.Members() {
			if m.Health == Dead {
				dead++
			}
		}
		return dead == 2
	})
	st := n.Storage()
	ss := st.Select(context.Background(), 0, 1<<62)
	for ss.Next() {
	}
	if len(st.Warnings()) != 1 || st.Stats().PartialSets != 1 {
		t.Fatalf("warnings %v, partial sets %d; want one warning for {node-2,node-3}", st.Warnings(), st.Stats().PartialSets)
	}
	st = n.Storage()
	st.FailOnPartial = true
	if ss := st.Select(context.Background(), 0, 1<<62); ss.Next() || ss.Err() == nil {
		t.Fatal("FailOnPartial answered")
	}
}

// Milestone 3: the cluster rebalances. Four nodes, RF=2. After a crash of
// node-2 and its failure timeout (1 s here), every series is back on at
// least RF live nodes with every acknowledged sample; the same after
// node-2 returns (hints and streaming catch it up) and after node-3
// leaves gracefully. The bound: the failure timeout plus one healing pass;
// the test waits for the nodes to report the pass done.
func TestMilestone3_Rebalances(t *testing.T) {
	c := newCluster(t, 4, 2, nil)
	k := newChecker()
	nser := scale(800, 4)
	writeAll(t, c.nodes["node-1"], k, genSeries(nser, 2, nowMs(), 5), 200)
	replicated := func(stage string) {
		t.Helper()
		c.waitRing()
		h := holders(t, c, k)
		for key := range k.acked {
			if h[key] < 2 {
				t.Fatalf("%s: %s has %d complete replicas, want ≥ 2", stage, key, h[key])
			}
		}
		checked := 0
		for _, n := range c.nodes {
			checked = k.check(t, n)
		}
		t.Logf("%s: %d series on ≥ 2 nodes, %d acknowledged samples read once through each node", stage, len(k.acked), checked)
	}

	c.kill("node-2")
	c.waitRing() // RF=2: writes to node-2's sets wait for it to leave the ring
	writeAll(t, c.nodes["node-1"], k, genSeries(nser, 1, nowMs()+100_000, 6), 200)
	replicated("after SIGKILL of node-2")

	c.start("node-2")
	writeAll(t, c.nodes["node-3"], k, genSeries(nser, 1, nowMs()+200_000, 7), 200)
	replicated("after node-2 returned")

	n3 := c.nodes["node-3"]
	delete(c.nodes, "node-3")
	if _, err := n3.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	replicated("after node-3 left")
}

// Milestone 4: query work spreads over the nodes. An aggregation (sum by
// dc over every series), pushed down to the nodes, runs on 1 and on 3
// nodes (RF=1, so each sample lives once): the samples the busiest node
// reads fall to about a third, and the answer is the same. The wall-clock
// half of the milestone (each node a process in a 0.5-CPU cgroup, ≥ 2×
// faster on 3 nodes) is TestMilestone4_CgroupSpeedup in the stage's main
// package.
func TestMilestone4_QueryWorkSpreads(t *testing.T) {
	series, samples := scale(900, 3), scale(30, 3)
	data := genSeries(series, samples, nowMs(), 8)
	busiest := map[int]int64{}
	answers := map[int]string{}
	for _, n := range []int{1, 3} {
		c := newCluster(t, n, 1, func(cfg *Config) { cfg.FailureTimeout = time.Hour })
		writeAll(t, c.any(), newChecker(), data, 300)
		at := time.UnixMilli(data[0].Samples[samples-1].T)
		v, st, err := c.any().Query(context.Background(), `sum by (dc) (count_over_time(cpu_usage[1h]))`, at)
		if err != nil {
			t.Fatal(err)
		}
		answers[n] = fmt.Sprint(v)
		for _, x := range st.Stats().PerNode {
			busiest[n] = max(busiest[n], x)
		}
		// pushed down: each node aggregates its own series, and every
		// sample is read once, on one node
		if got := st.Stats(); got.SamplesRead != int64(series*samples) || got.PushedDown != 1 {
			t.Fatalf("%d nodes: the nodes read %d samples, want %d (pushed down %d)", n, got.SamplesRead, series*samples, got.PushedDown)
		}
	}
	if answers[1] != answers[3] {
		t.Fatalf("answers differ: 1 node %s, 3 nodes %s", answers[1], answers[3])
	}
	ratio := float64(busiest[3]) / float64(busiest[1])
	t.Logf("busiest node read %d samples on 1 node, %d on 3 (ratio %.2f, ideal 0.33)", busiest[1], busiest[3], ratio)
	if ratio > 1.0/3*1.25 {
		t.Fatalf("per-node work on 3 nodes is %.2f of one node's; want about 1/3", ratio)
	}
}
