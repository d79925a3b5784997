// Command stage13-cluster demonstrates a replicated cluster of TSDB nodes:
// three node processes (or, with --in-process, three nodes in this
// process), each with its own stage06 storage, HTTP API and gossip on
// 127.0.0.1; writes at quorum, a node killed, the cluster healing, queries
// fanned out. Every number printed is measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage13-cluster/cluster"
)

func main() {
	if len(os.Args) > 1 {
		if cmd, ok := subcommands[os.Args[1]]; ok {
			if err := cmd(os.Args[2:]); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return
				}
				fmt.Fprintln(os.Stderr, "error:", err)
				os.Exit(1)
			}
			return
		}
	}
	fs := flag.NewFlagSet("stage13-cluster", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "nodes in the cluster")
	rf := fs.Int("replication", 2, "replication factor")
	series := fs.Int("series", 3000, "series written by the demo")
	dataDir := fs.String("data-dir", "", "directory for the nodes' data (default: a fresh temp dir)")
	inProcess := fs.Bool("in-process", false, "run the nodes as goroutines of this process, not as processes")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./stage13-cluster [--nodes N] [--replication RF] [--series N] [--data-dir DIR] [--in-process]")
		fmt.Fprintln(fs.Output(), "runs the guide's transcript on a cluster of node processes: writes, a node killed, healing, queries.")
		fmt.Fprintln(fs.Output(), "subcommands (one process per node): init --nodes=N --replication=RF, status, write LINE, query EXPR,")
		fmt.Fprintln(fs.Output(), "  kill NODE, add-node, remove-node NODE, stop; each takes --data-dir (default "+defaultDir()+")")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "error: unknown subcommand %q (the demo takes flags only; -h for usage)\n", fs.Arg(0))
		os.Exit(2)
	}
	run := demoProcesses
	if *inProcess {
		run = demo
	}
	if err := run(*nodes, *rf, *series, *dataDir); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

type demoCluster struct {
	dir   string
	rf    int
	mu    sync.Mutex
	nodes map[string]*cluster.Node
	names []string
	prog  chan cluster.Event
}

func (d *demoCluster) start(id string) (*cluster.Node, error) {
	cfg := cluster.Config{
		ID: id, DataDir: filepath.Join(d.dir, id), Replication: d.rf,
		Gossip: cluster.MembershipConfig{
			ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond,
			SuspicionMult: 2, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second,
		},
		FailureTimeout: 2 * time.Second,
		RingInterval:   50 * time.Millisecond,
		OnEvent: func(e cluster.Event) {
			if e.Kind == "heal-progress" || e.Kind == "heal-done" {
				select {
				case d.prog <- e:
				default:
				}
			}
		},
	}
	for _, id := range d.names {
		if n, ok := d.nodes[id]; ok {
			cfg.Gossip.Seeds = []string{n.Gossip()}
			break
		}
	}
	n, err := cluster.Start(cfg)
	if err != nil {
		return nil, err
	}
	d.nodes[id] = n
	return n, nil
}

func (d *demoCluster) waitRing(size int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ok := true
		for _, n := range d.nodes {
			ok = ok && n.Placement().Ring != nil && n.Placement().Ring.Len() == size && n.Healed()
		}
		if ok {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the nodes did not agree on a %d-node ring within %v", size, within)
}

func (d *demoCluster) status() error {
	online := 0
	counts := map[string]int{}
	total := 0
	for _, id := range d.names {
		n, ok := d.nodes[id]
		if !ok {
			continue
		}
		online++
		st, err := n.Status()
		if err != nil {
			return err
		}
		counts[id] = st.Series
		total += st.Series
	}
	state := "HEALTHY"
	if online < len(d.names) {
		state = "DEGRADED"
	}
	fmt.Printf("Cluster Status: %s\n  Nodes: %d/%d online\n  Series stored (replicas counted): %s\n  Distribution:\n", state, online, len(d.names), cli.Thousands(total))
	for _, id := range d.names {
		if _, ok := d.nodes[id]; !ok {
			fmt.Printf("    %s: FAILED\n", label(id))
			continue
		}
		fmt.Printf("    %s: %s series (%.1f%%)\n", label(id), cli.Thousands(counts[id]), 100*float64(counts[id])/float64(max(total, 1)))
	}
	return nil
}

func demo(nNodes, rf, nSeries int, dataDir string) error {
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "stage13-cluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	} else if ents, err := os.ReadDir(dataDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("--data-dir %s is not empty", dataDir)
	}
	d := &demoCluster{dir: dataDir, rf: rf, nodes: map[string]*cluster.Node{}, prog: make(chan cluster.Event, 1024)}
	defer func() {
		for _, n := range d.nodes {
			_ = n.Close()
		}
	}()
	fmt.Printf("$ tsdb-cluster init --nodes=%d --replication=%d\n", nNodes, rf)
	fmt.Printf("Initializing %d-node cluster with replication factor %d...\n", nNodes, rf)
	for i := 1; i <= nNodes; i++ {
		id := fmt.Sprintf("node-%d", i)
		d.names = append(d.names, id)
		n, err := d.start(id)
		if err != nil {
			return err
		}
		fmt.Printf("%s (%s, gossip %s): ONLINE\n", label(id), n.API(), n.Gossip())
	}
	t0 := time.Now()
	if err := d.waitRing(nNodes, 60*time.Second); err != nil {
		return err
	}
	fmt.Printf("Hash ring configured: %d virtual nodes per physical node (all %d nodes agree after %s)\n\n",
		cluster.DefaultVirtualNodes, nNodes, time.Since(t0).Round(time.Millisecond))

	// Load: nSeries series × 10 samples, written through node-1.
	now := time.Now().Add(-10 * time.Minute).UnixMilli()
	var data []remote.Series
	for i := 0; i < nSeries; i++ {
		s := remote.Series{Labels: model.MustFromStrings("__name__", "cpu", "host", fmt.Sprintf("server%d", i+2))}
		for k := 0; k < 10; k++ {
			s.Samples = append(s.Samples, model.Sample{T: now + int64(k)*30_000, V: float64(i%100) / 100})
		}
		data = append(data, s)
	}
	n1 := d.nodes["node-1"]
	t0 = time.Now()
	for i := 0; i < len(data); i += 500 {
		if _, err := n1.Write(context.Background(), data[i:min(i+500, len(data))]); err != nil {
			return err
		}
	}
	el := time.Since(t0)
	fmt.Printf("(loaded %s series × 10 samples through node-1 in %s: %s samples/s acknowledged at quorum)\n\n",
		cli.Thousands(nSeries), el.Round(time.Millisecond), cli.Thousands(int(float64(nSeries*10)/el.Seconds())))
	fmt.Println("$ tsdb-cluster status")
	if err := d.status(); err != nil {
		return err
	}

	one := remote.Series{Labels: model.MustFromStrings("__name__", "cpu", "host", "server1")}
	for k := 0; k < 10; k++ {
		one.Samples = append(one.Samples, model.Sample{T: now + int64(k)*30_000, V: 0.75})
	}
	fmt.Println("\n$ tsdb-cluster write \"cpu{host=server1} 0.75\"")
	res, err := n1.Write(context.Background(), []remote.Series{one})
	if err != nil {
		return err
	}
	var to []string
	for i, id := range res.Targets {
		role := "replica"
		if i == 0 {
			role = "primary"
		}
		to = append(to, fmt.Sprintf("%s (%s)", label(id), role))
	}
	fmt.Printf("Written to: %s\nAck: %d/%d nodes confirmed when acknowledged (quorum %d)\n", strings.Join(to, ", "), res.Acks, res.Replicas, rf/2+1)

	query := func(via *cluster.Node) error {
		t0 := time.Now()
		at := time.UnixMilli(now + 9*30_000)
		v, st, err := via.Query(context.Background(), `cpu{host="server1"}[5m]`, at)
		if err != nil {
			return err
		}
		el := time.Since(t0)
		samples := 0
		if m, ok := v.(interface{ String() string }); ok {
			samples = strings.Count(m.String(), "@")
		}
		qs := st.Stats()
		var per []string
		for id, x := range qs.PerNode {
			if x > 0 {
				per = append(per, fmt.Sprintf("%s (%d samples)", label(id), x))
			}
		}
		sort.Strings(per)
		fmt.Printf("Query plan:\n  Fan-out to: %d live nodes; replicas answering: %s\n", qs.NodesAsked, strings.Join(per, ", "))
		fmt.Printf("Result: %d samples (replicas merged, duplicates dropped) in %s\n", samples, el.Round(10*time.Microsecond))
		for _, w := range st.Warnings() {
			fmt.Printf("  warning: %s\n", w)
		}
		return nil
	}
	fmt.Println("\n$ tsdb-cluster query \"cpu{host=server1}[5m]\"")
	if err := query(n1); err != nil {
		return err
	}

	victim := "node-2"
	fmt.Printf("\n$ tsdb-cluster kill %s\n", victim)
	if err := d.nodes[victim].Kill(); err != nil {
		return err
	}
	delete(d.nodes, victim)
	t0 = time.Now()
	for {
		dead := false
		for _, m := range n1.Members() {
			dead = dead || (m.ID == victim && m.Health == cluster.Dead)
		}
		if dead {
			break
		}
		if time.Since(t0) > 60*time.Second {
			return fmt.Errorf("%s not detected as failed within 60 s", victim)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("%s marked as FAILED (detected by gossip after %s)\n", label(victim), time.Since(t0).Round(time.Millisecond))
	// Writes at quorum while the failure timeout runs: the sets with
	// the dead node need both replicas at RF=2, so they wait for it to
	// leave the ring; the others are acknowledged.
	fmt.Printf("Failure timeout 2s: %s keeps its place in the ring, its writes go to hints\n", label(victim))
	for len(d.prog) > 0 {
		<-d.prog
	}
	t1 := time.Now()
	if err := d.waitRing(nNodes-1, 60*time.Second); err != nil {
		return err
	}
	var last cluster.HealStats
	printed := map[int]bool{}
	var line []string
	for len(d.prog) > 0 {
		e := <-d.prog
		if e.Kind == "heal-done" {
			last.Streamed += e.Heal.Streamed
			last.Samples += e.Heal.Samples
			continue
		}
		if e.Total > 0 {
			pct := 100 * e.Done / e.Total
			bucket := pct / 25
			if !printed[bucket] || pct == 100 {
				printed[bucket] = true
				line = append(line, fmt.Sprintf("%d%%", pct))
			}
		}
	}
	fmt.Printf("Rebalancing: %s series (%s samples) re-replicated to their new owners\n", cli.Thousands(last.Streamed), cli.Thousands(int(last.Samples)))
	fmt.Printf("Progress: %s... done %s after the failure was detected\n", strings.Join(line, "... "), time.Since(t1).Round(time.Millisecond))
	if err := d.status(); err != nil {
		return err
	}

	// Every acknowledged sample is still there: read all through node-3.
	st := d.nodes["node-3"].Storage()
	ss := st.Select(context.Background(), 0, 1<<62)
	got := 0
	for ss.Next() {
		it := ss.At().Iterator()
		for it.Next() {
			got++
		}
	}
	want := nSeries*10 + 10
	if got != want {
		return fmt.Errorf("read %d samples after the failure, %d were acknowledged", got, want)
	}
	fmt.Printf("All data remains available: %s of %s acknowledged samples read back through Node 3, each once\n", cli.Thousands(got), cli.Thousands(want))
	res, err = d.nodes["node-3"].Write(context.Background(), []remote.Series{{Labels: one.Labels, Samples: []model.Sample{{T: now + 10*30_000, V: 0.8}}}})
	if err != nil {
		return err
	}
	fmt.Printf("Writes at quorum again: Ack %d/%d\n", res.Acks, res.Replicas)

	fmt.Printf("\n$ tsdb-cluster query \"cpu{host=server1}[5m]\"\n")
	return query(d.nodes["node-3"])
}
