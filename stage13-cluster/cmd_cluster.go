package main

// The multi-process cluster of the guide's transcript: `init` starts one
// OS process per node (this program's hidden `node` subcommand), records
// them in <data-dir>/cluster.json, and the other subcommands talk to the
// nodes over their HTTP API.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage13-cluster/cluster"
)

var subcommands = map[string]func([]string) error{
	"node": cmdNode, "init": cmdInit, "status": cmdStatus, "write": cmdWrite, "query": cmdQuery,
	"kill": cmdKill, "add-node": cmdAddNode, "remove-node": cmdRemoveNode, "stop": cmdStop,
}

type nodeEntry struct {
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	API    string `json:"api"`
	Gossip string `json:"gossip"`
}

type state struct {
	Replication int         `json:"replication"`
	Nodes       []nodeEntry `json:"nodes"`
}

func defaultDir() string { return filepath.Join(os.TempDir(), "tsdb-cluster") }

func newFlags(name, usage string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	dir := fs.String("data-dir", defaultDir(), "the cluster's directory (cluster.json, one directory per node)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./stage13-cluster %s\n", usage)
		fs.PrintDefaults()
	}
	return fs, dir
}

// parse parses flags placed before or after the positional arguments
// (`write "cpu 1" --data-dir d` as well as `write --data-dir d "cpu 1"`),
// which the flag package alone stops at.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return nil, fmt.Errorf("no cluster in %s (run init first): %w", dir, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s/cluster.json: %w", dir, err)
	}
	return &st, nil
}

func saveState(dir string, st *state) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := filepath.Join(dir, "cluster.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "cluster.json"))
}

// cmdNode runs one node until SIGTERM/SIGINT (or a leave asked over HTTP).
func cmdNode(args []string) error {
	fs, dir := newFlags("node", "node --id ID --data-dir DIR [--replication RF] [--seeds ADDR,…]")
	id := fs.String("id", "", "node ID")
	rf := fs.Int("replication", 2, "replication factor")
	seeds := fs.String("seeds", "", "gossip addresses of nodes already running, comma-separated")
	ft := fs.Duration("failure-timeout", 3*time.Second, "how long a dead node keeps its place in the ring")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	cfg := cluster.Config{ID: *id, DataDir: filepath.Join(*dir, *id), Replication: *rf, FailureTimeout: *ft,
		Gossip: cluster.MembershipConfig{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond,
			SuspicionMult: 2, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second}}
	if *seeds != "" {
		cfg.Gossip.Seeds = strings.Split(*seeds, ",")
	}
	n, err := cluster.Start(cfg)
	if err != nil {
		return err
	}
	addr := filepath.Join(*dir, *id+".addr")
	if err := os.WriteFile(addr+".tmp", []byte(n.API()+" "+n.Gossip()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(addr+".tmp", addr); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
		return n.Close()
	case <-n.Done():
		return nil
	}
}

func spawn(dir, id string, rf int, seeds []string) (nodeEntry, error) {
	exe, err := os.Executable()
	if err != nil {
		return nodeEntry{}, err
	}
	_ = os.Remove(filepath.Join(dir, id+".addr"))
	logf, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		return nodeEntry{}, err
	}
	defer logf.Close()
	args := []string{"node", "--id", id, "--data-dir", dir, "--replication", strconv.Itoa(rf)}
	if len(seeds) > 0 {
		args = append(args, "--seeds", strings.Join(seeds, ","))
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not killed with this terminal's ^C
	if err := cmd.Start(); err != nil {
		return nodeEntry{}, err
	}
	e := nodeEntry{ID: id, PID: cmd.Process.Pid}
	if reapChildren {
		go func() { _ = cmd.Wait() }()
	} else {
		_ = cmd.Process.Release()
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, id+".addr")); err == nil {
			f := strings.Fields(string(b))
			if len(f) == 2 {
				e.API, e.Gossip = f[0], f[1]
				return e, nil
			}
		}
		if syscall.Kill(e.PID, 0) != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e, fmt.Errorf("%s did not start (see %s)", id, filepath.Join(dir, id+".log"))
}

func label(id string) string { return "Node " + strings.TrimPrefix(id, "node-") }

var client = &http.Client{Timeout: 5 * time.Second}

func getStatus(e nodeEntry) (cluster.NodeStatus, error) {
	var st cluster.NodeStatus
	resp, err := client.Get("http://" + e.API + cluster.PathStatus)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: %s", e.ID, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitSettled waits until every live node's ring has exactly the live
// nodes, each sees them all alive and active, and no node is healing.
func waitSettled(st *state, within time.Duration) error { return waitHealed(st, within, nil) }

// waitHealed is waitSettled telling progress, while any node heals, the
// series its healing passes have done of their total.
func waitHealed(st *state, within time.Duration, progress func(done, total int)) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ok, live := true, 0
		done, total := 0, 0
		for _, e := range st.Nodes {
			if e.PID == 0 {
				continue
			}
			live++
		}
		for _, e := range st.Nodes {
			if e.PID == 0 {
				continue
			}
			s, err := getStatus(e)
			// Settled is also each node seeing every live node alive and
			// active: a query's push-down asks the members it sees so, and
			// the ring can hold a node before its gossip reached everyone.
			seen := 0
			for _, m := range s.Members {
				if m.Health == cluster.Alive && m.State == cluster.Active {
					seen++
				}
			}
			ok = ok && err == nil && len(s.Ring) == live && seen == live && !s.Healing && s.Heals > 0
			if s.Healing {
				done, total = done+s.HealDone, total+s.HealTotal
			}
		}
		if progress != nil && total > 0 {
			progress(done, total)
		}
		if ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the cluster did not settle within %v", within)
}

func cmdInit(args []string) error {
	fs, dir := newFlags("init", "init --nodes=N --replication=RF [--data-dir DIR]")
	n := fs.Int("nodes", 3, "nodes to start")
	rf := fs.Int("replication", 2, "replication factor")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if _, err := loadState(*dir); err == nil {
		return fmt.Errorf("a cluster already runs from %s (stop it first)", *dir)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	fmt.Printf("Initializing %d-node cluster with replication factor %d...\n", *n, *rf)
	st := &state{Replication: *rf}
	for i := 1; i <= *n; i++ {
		var seeds []string
		if len(st.Nodes) > 0 {
			seeds = []string{st.Nodes[0].Gossip}
		}
		e, err := spawn(*dir, fmt.Sprintf("node-%d", i), *rf, seeds)
		if err != nil {
			return err
		}
		st.Nodes = append(st.Nodes, e)
		if err := saveState(*dir, st); err != nil {
			return err
		}
		fmt.Printf("%s (%s): ONLINE (pid %d)\n", label(e.ID), e.API, e.PID)
	}
	t0 := time.Now()
	if err := waitSettled(st, 60*time.Second); err != nil {
		return err
	}
	fmt.Printf("Hash ring configured: %d virtual nodes per physical node (agreed after %s)\n", cluster.DefaultVirtualNodes, time.Since(t0).Round(time.Millisecond))
	return nil
}

func cmdStatus(args []string) error {
	fs, dir := newFlags("status", "status [--data-dir DIR]")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	st, err := loadState(*dir)
	if err != nil {
		return err
	}
	type row struct {
		id     string
		series int
		ok     bool
	}
	var rows []row
	total, online, hints := 0, 0, int64(0)
	healing := false
	for _, e := range st.Nodes {
		s, err := getStatus(e)
		if err != nil || e.PID == 0 {
			rows = append(rows, row{id: e.ID})
			continue
		}
		online++
		total += s.Series
		rows = append(rows, row{e.ID, s.Series, true})
		for _, b := range s.HintsPending {
			hints += b
		}
		healing = healing || s.Healing
	}
	state := "HEALTHY"
	if online < len(st.Nodes) {
		state = "DEGRADED"
	}
	fmt.Printf("Cluster Status: %s\n  Nodes: %d/%d online\n  Series stored (replicas counted): %s\n  Distribution:\n", state, online, len(st.Nodes), cli.Thousands(total))
	for _, r := range rows {
		if !r.ok {
			fmt.Printf("    %s: OFFLINE\n", label(r.id))
			continue
		}
		fmt.Printf("    %s: %s series (%.1f%%)\n", label(r.id), cli.Thousands(r.series), 100*float64(r.series)/float64(max(total, 1)))
	}
	fmt.Printf("  Replication lag: %s bytes of hints pending, healing %v\n", cli.Thousands(int(hints)), healing)
	return nil
}

func firstLive(st *state) (nodeEntry, error) {
	for _, e := range st.Nodes {
		if e.PID != 0 {
			if _, err := getStatus(e); err == nil {
				return e, nil
			}
		}
	}
	return nodeEntry{}, errors.New("no node answers")
}

// parseLine reads `name{k=v,…} value [timestamp_ms]`.
func parseLine(s string) (remote.Series, error) {
	var out remote.Series
	s = strings.TrimSpace(s)
	name, rest := s, ""
	pairs := []string{model.MetricName}
	if i := strings.IndexByte(s, '{'); i >= 0 {
		j := strings.IndexByte(s, '}')
		if j < i {
			return out, fmt.Errorf("%q: missing }", s)
		}
		name, rest = s[:i], s[j+1:]
		pairs = append(pairs, name)
		for _, kv := range strings.Split(s[i+1:j], ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return out, fmt.Errorf("%q: label without =", kv)
			}
			pairs = append(pairs, strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`))
		}
	} else {
		f := strings.Fields(s)
		if len(f) == 0 {
			return out, errors.New("empty line")
		}
		name, rest = f[0], strings.TrimPrefix(s, f[0])
		pairs = append(pairs, name)
	}
	f := strings.Fields(rest)
	if len(f) < 1 || len(f) > 2 {
		return out, fmt.Errorf("%q: want a value and an optional timestamp (ms)", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return out, fmt.Errorf("value %q: %w", f[0], err)
	}
	ts := time.Now().UnixMilli()
	if len(f) == 2 {
		if ts, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return out, fmt.Errorf("timestamp %q: %w", f[1], err)
		}
	}
	lset, err := model.FromStrings(pairs...)
	if err != nil {
		return out, err
	}
	return remote.Series{Labels: lset, Samples: []model.Sample{{T: ts, V: v}}}, nil
}

func cmdWrite(args []string) error {
	line, st, _, err := oneArg("write", `write "cpu{host=server1} 0.75" [--data-dir DIR]`, `one sample: write "cpu{host=server1} 0.75"`, args)
	if err != nil {
		return err
	}
	s, err := parseLine(line)
	if err != nil {
		return err
	}
	e, err := firstLive(st)
	if err != nil {
		return err
	}
	body := remote.Compress(nil, remote.AppendWriteRequest(nil, []remote.Series{s}))
	resp, err := client.Post("http://"+e.API+cluster.PathWrite, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("write: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	var to []string
	for i, id := range strings.Split(resp.Header.Get("X-Cluster-Targets"), ",") {
		role := "replica"
		if i == 0 {
			role = "primary"
		}
		to = append(to, fmt.Sprintf("%s (%s)", label(id), role))
	}
	fmt.Printf("Written to: %s\nAck: %s nodes confirmed (coordinated by %s)\n", strings.Join(to, ", "), resp.Header.Get("X-Cluster-Acks"), label(e.ID))
	return nil
}

func cmdQuery(args []string) error {
	q, st, _, err := oneArg("query", `query "cpu{host=server1}[5m]" [--data-dir DIR]`, "one PromQL expression", args)
	if err != nil {
		return err
	}
	e, err := firstLive(st)
	if err != nil {
		return err
	}
	var live []string
	for _, x := range st.Nodes {
		if _, err := getStatus(x); err == nil && x.PID != 0 {
			live = append(live, label(x.ID))
		}
	}
	t0 := time.Now()
	// The guide's selectors name whole series: pinned, each asks its
	// replica set only.
	resp, err := client.Get("http://" + e.API + cluster.PathQuery + "?pinned=true&query=" + url.QueryEscape(q))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Warnings      []string
		Data          struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Values []json.RawMessage `json:"values"`
				Value  json.RawMessage   `json:"value"`
			} `json:"result"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err
	}
	el := time.Since(t0)
	if body.Status != "success" {
		return fmt.Errorf("query: %s", body.Error)
	}
	n := 0
	for _, r := range body.Data.Result {
		n += len(r.Values)
		if r.Value != nil {
			n++
		}
	}
	var asked []string
	for _, id := range strings.Split(resp.Header.Get("X-Cluster-Asked"), ",") {
		if id != "" {
			asked = append(asked, label(id))
		}
	}
	fmt.Printf("Query plan: %s (%d of %d live nodes asked, coordinated by %s)\n  Asked: %s (replicas merged, duplicates dropped)\n",
		resp.Header.Get("X-Cluster-Plan"), len(asked), len(live), label(e.ID), strings.Join(asked, ", "))
	fmt.Printf("Result: %d samples in %d series in %s\n", n, len(body.Data.Result), el.Round(100*time.Microsecond))
	for _, w := range body.Warnings {
		fmt.Println("Warning:", w)
	}
	return nil
}

func find(st *state, id string) (int, error) {
	for i, e := range st.Nodes {
		if e.ID == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no node %q in this cluster", id)
}

// oneArg parses a subcommand that takes exactly one argument (want says
// what, for the error) and loads the cluster it names with --data-dir.
func oneArg(name, usage, want string, args []string) (arg string, st *state, dir string, err error) {
	fs, d := newFlags(name, usage)
	pos, err := parse(fs, args)
	if err != nil {
		return "", nil, "", err
	}
	if len(pos) != 1 {
		return "", nil, "", fmt.Errorf("%s takes %s", name, want)
	}
	st, err = loadState(*d)
	return pos[0], st, *d, err
}

// oneNode is oneArg for the subcommands whose argument is a node ID: the
// node's index in the cluster's state.
func oneNode(name, usage string, args []string) (st *state, i int, dir string, err error) {
	id, st, dir, err := oneArg(name, usage, "a node ID (node-2)", args)
	if err != nil {
		return nil, 0, "", err
	}
	i, err = find(st, id)
	return st, i, dir, err
}

func cmdKill(args []string) error {
	st, i, dir, err := oneNode("kill", "kill NODE [--data-dir DIR]", args)
	if err != nil {
		return err
	}
	victim := st.Nodes[i]
	if victim.PID == 0 {
		return fmt.Errorf("%s is not running", victim.ID)
	}
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL %d: %w", victim.PID, err)
	}
	st.Nodes[i].PID = 0
	if err := saveState(dir, st); err != nil {
		return err
	}
	t0 := time.Now()
	for {
		e, err := firstLive(st)
		if err != nil {
			return err
		}
		s, err := getStatus(e)
		dead := false
		for _, m := range s.Members {
			dead = dead || (err == nil && m.ID == victim.ID && m.Health == cluster.Dead)
		}
		if dead {
			break
		}
		if time.Since(t0) > 60*time.Second {
			return fmt.Errorf("%s not detected as failed within 60 s", victim.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("%s marked as FAILED (SIGKILL, detected after %s)\n", label(victim.ID), time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	var steps []string
	last := -1
	err = waitHealed(st, 120*time.Second, func(done, total int) {
		if pct := 100 * done / total; pct > last && pct < 100 {
			last = pct
			steps = append(steps, fmt.Sprintf("%d%%", pct))
		}
	})
	if err != nil {
		return err
	}
	streamed, samples := 0, int64(0)
	for _, e := range st.Nodes {
		if s, err := getStatus(e); err == nil && e.PID != 0 {
			streamed += s.LastHeal.Streamed
			samples += s.LastHeal.Samples
		}
	}
	fmt.Printf("Rebalancing: %s series (%s samples) re-replicated to their new owners\n", cli.Thousands(streamed), cli.Thousands(int(samples)))
	fmt.Printf("Progress: %s after %s\n", strings.Join(append(steps, "100%"), "... "), time.Since(t1).Round(time.Millisecond))
	return cmdStatus([]string{"--data-dir", dir})
}

func cmdAddNode(args []string) error {
	fs, dir := newFlags("add-node", "add-node [--data-dir DIR]")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	st, err := loadState(*dir)
	if err != nil {
		return err
	}
	seed, err := firstLive(st)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("node-%d", len(st.Nodes)+1)
	e, err := spawn(*dir, id, st.Replication, []string{seed.Gossip})
	if err != nil {
		return err
	}
	st.Nodes = append(st.Nodes, e)
	if err := saveState(*dir, st); err != nil {
		return err
	}
	fmt.Printf("%s (%s): ONLINE (pid %d), JOINING\n", label(id), e.API, e.PID)
	t0 := time.Now()
	if err := waitSettled(st, 120*time.Second); err != nil {
		return err
	}
	fmt.Printf("Rebalanced: series streamed to %s, ring settled after %s\n", label(id), time.Since(t0).Round(time.Millisecond))
	return nil
}

func cmdRemoveNode(args []string) error {
	st, i, dir, err := oneNode("remove-node", "remove-node NODE [--data-dir DIR]", args)
	if err != nil {
		return err
	}
	e := st.Nodes[i]
	resp, err := client.Post("http://"+e.API+cluster.PathLeave, "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	t0 := time.Now()
	for syscall.Kill(e.PID, 0) == nil {
		if time.Since(t0) > 120*time.Second {
			return fmt.Errorf("%s did not finish leaving within 120 s", e.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st.Nodes = append(st.Nodes[:i], st.Nodes[i+1:]...)
	if err := saveState(dir, st); err != nil {
		return err
	}
	fmt.Printf("%s LEAVING: handed its series over and left after %s\n", label(e.ID), time.Since(t0).Round(time.Millisecond))
	return waitSettled(st, 120*time.Second)
}

func cmdStop(args []string) error {
	fs, dir := newFlags("stop", "stop [--data-dir DIR]")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	st, err := loadState(*dir)
	if err != nil {
		return err
	}
	for _, e := range st.Nodes {
		if e.PID == 0 {
			continue
		}
		_ = syscall.Kill(e.PID, syscall.SIGTERM)
		t0 := time.Now()
		for syscall.Kill(e.PID, 0) == nil && time.Since(t0) < 30*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Printf("%s stopped\n", label(e.ID))
	}
	return os.Remove(filepath.Join(*dir, "cluster.json"))
}
