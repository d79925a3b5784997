package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage13-cluster/cluster"
)

// TestProcesses runs the guide's transcript with one OS process per node:
// init, write, query, SIGSTOP and SIGCONT of node-3 (a hung node comes
// back as itself), SIGKILL of node-2 (detected, healed, the sample still
// answered, writes at quorum again), stop. Every process it started
// is killed by PID on the way out.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program and starts processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tsdb-cluster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	t.Cleanup(func() {
		b, err := os.ReadFile(filepath.Join(data, "cluster.json"))
		if err != nil {
			return
		}
		var st state
		if json.Unmarshal(b, &st) == nil {
			for _, e := range st.Nodes {
				if e.PID > 0 {
					_ = syscall.Kill(e.PID, syscall.SIGCONT)
					_ = syscall.Kill(e.PID, syscall.SIGKILL)
				}
			}
		}
	})
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append(args, "--data-dir", data)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("init", "--nodes=3", "--replication=2")
	if strings.Count(out, "ONLINE") != 3 || !strings.Contains(out, "Hash ring configured: 256 virtual nodes") {
		t.Fatalf("init:\n%s", out)
	}
	out = run("write", "cpu{host=server1} 0.75")
	if !strings.Contains(out, "(primary)") || !strings.Contains(out, "Ack: 2/2") {
		t.Fatalf("write:\n%s", out)
	}
	// the selector names the series: only its replica set is asked
	if out = run("query", `cpu{host="server1"}[5m]`); !strings.Contains(out, "Result: 1 samples in 1 series") ||
		!strings.Contains(out, "Query plan: replica set (2 of 3 live nodes asked") {
		t.Fatalf("query:\n%s", out)
	}
	if out = run("query", `sum(count_over_time(cpu[5m]))`); !strings.Contains(out, "Result: 1 samples in 1 series") ||
		!strings.Contains(out, "Query plan: push-down (3 of 3 live nodes asked") {
		t.Fatalf("aggregation:\n%s", out)
	}
	// A hung node is not a dead one: SIGSTOP node-3 until the others
	// declare it dead, then SIGCONT; it refutes and is alive again, with
	// its data, under its own name.
	b, err := os.ReadFile(filepath.Join(data, "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	health := func(of string) cluster.Health {
		s, err := getStatus(st.Nodes[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range s.Members {
			if m.ID == of {
				return m.Health
			}
		}
		return cluster.Left
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 90 s: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := syscall.Kill(st.Nodes[2].PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor("node-3 seen dead while stopped", func() bool { return health("node-3") == cluster.Dead })
	if err := syscall.Kill(st.Nodes[2].PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor("node-3 alive again after SIGCONT", func() bool { return health("node-3") == cluster.Alive })
	if out = run("status"); !strings.Contains(out, "Nodes: 3/3 online") {
		t.Fatalf("status after SIGCONT:\n%s", out)
	}

	out = run("kill", "node-2")
	if !strings.Contains(out, "Node 2 marked as FAILED") || !strings.Contains(out, "Cluster Status: DEGRADED") || !strings.Contains(out, "Nodes: 2/3 online") {
		t.Fatalf("kill:\n%s", out)
	}
	if out = run("query", `cpu{host="server1"}[5m]`); !strings.Contains(out, "Result: 1 samples in 1 series") || strings.Contains(out, "Warning") {
		t.Fatalf("query after the kill:\n%s", out)
	}
	// After healing both survivors hold the series: a write acknowledged
	// by both.
	if out = run("write", "cpu{host=server1} 0.8"); !strings.Contains(out, "Ack: 2/2") {
		t.Fatalf("write after healing:\n%s", out)
	}
	out = run("stop")
	if strings.Count(out, "stopped") != 2 {
		t.Fatalf("stop:\n%s", out)
	}
}

// TestDemo runs the no-argument demo, three node processes in a temp dir:
// the guide's transcript from init to stop, every acknowledged sample
// counted after the kill, and no node process left behind.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program and starts processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tsdb-cluster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	// the nodes' PIDs, from init's lines: none may outlive the demo
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "(pid "); i >= 0 {
			var pid int
			if _, e := fmt.Sscanf(line[i:], "(pid %d)", &pid); e == nil && pid > 0 {
				if syscall.Kill(pid, 0) == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("node process %d still running after the demo", pid)
				}
			}
		}
	}
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"$ tsdb-cluster init --nodes=3 --replication=2", "Hash ring configured: 256 virtual nodes",
		"Cluster Status: HEALTHY", "Ack: 2/2", "Query plan: replica set (2 of 3 live nodes asked",
		"Node 2 marked as FAILED", "Progress: ", "Cluster Status: DEGRADED", "Nodes: 2/3 online",
		"All data remains available: 30,001 of 30,001 acknowledged samples", "Node 3 stopped",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
}
