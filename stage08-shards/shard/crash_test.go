package shard

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The crash tests run the test binary itself as the process that crashes:
// TestMain sees the environment variable, opens the data directory, arms
// Options.crashHook to SIGKILL itself at the named step and runs the operation.
const (
	childEnvDir  = "SHARD_TEST_CHILD_DIR"
	childEnvStep = "SHARD_TEST_CHILD_STEP"
	childEnvOp   = "SHARD_TEST_CHILD_OP"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnvDir); dir != "" {
		if err := crashChild(dir, os.Getenv(childEnvStep), os.Getenv(childEnvOp)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0) // the step was never reached: the parent fails
	}
	os.Exit(m.Run())
}

var crashClock = day("2024-01-15").Add(12 * time.Hour)

var crashPolicy = Policy{WarmAfter: 0, ColdAfter: 48 * time.Hour, Retention: 3 * 24 * time.Hour}

func crashChild(dir, step, op string) error {
	var armed atomic.Bool // Open's own manifest write is not the operation's
	opts := Options{Now: func() time.Time { return crashClock }, crashHook: func(s string) {
		if armed.Load() && s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}}
	if op == "tier-exdev" {
		opts.rename = crossDevice(new(atomic.Int64))
	}
	m, err := Open(dir, opts)
	if err != nil {
		return err
	}
	armed.Store(true)
	switch op {
	case "tier", "tier-exdev":
		_, err = m.Tier(bg)
	case "retention":
		_, err = m.EnforceRetention()
	}
	return err
}

// TestManifestCrash kills a real process at every step of a manifest write,
// of a cold move (by rename, and by copy across file systems) and of a
// retention deletion, then reopens: the manifest is
// the old or the new one, whole, the directories agree with it, and every
// sample the states say should be there is there.
func TestManifestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	g := gen{hosts: 2, fields: 2, start: ms(day("2024-01-11")), end: ms(day("2024-01-15").Add(12 * time.Hour)), step: 10 * 60 * 1000}
	bs := g.batches(24)
	cases := []struct {
		step, op string
		check    func(t *testing.T, m *Manager)
	}{
		// The first manifest write of Tier makes shard 01-12 warm
		// (01-11 is past retention: left alone).
		{stepTmpWritten, "tier", wantState("shard_2024-01-12", Hot)},
		{stepTmpSynced, "tier", wantState("shard_2024-01-12", Hot)},
		{stepRenamed, "tier", wantState("shard_2024-01-12", Warm)},
		{stepDirSynced, "tier", wantState("shard_2024-01-12", Warm)},
		{stepColdCompacted, "tier", wantState("shard_2024-01-12", Warm)},
		{stepColdCommitted, "tier", wantState("shard_2024-01-12", Cold)},
		{stepColdMoved, "tier", wantState("shard_2024-01-12", Cold)},
		// The same move across file systems (every rename fails with
		// EXDEV, in the child and in the reopening parent): killed with
		// the copy half made, whole but not in place, in place with the
		// source still there.
		{stepColdCopying, "tier-exdev", wantState("shard_2024-01-12", Cold)},
		{stepColdCopied, "tier-exdev", wantState("shard_2024-01-12", Cold)},
		{stepColdInstalled, "tier-exdev", wantState("shard_2024-01-12", Cold)},
		{stepRetentionCommitted, "retention", wantState("shard_2024-01-11", "")},
	}
	for _, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{crashClock}
			pol := crashPolicy
			pol.Retention = 0 // let the old data in
			m := openManager(t, dir, EngineTSM, c, Options{Policy: &pol})
			writeAll(t, m.Write, bs)
			m.Close()
			m = openManager(t, dir, EngineTSM, c, Options{Policy: &crashPolicy})
			m.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnvDir+"="+dir, childEnvStep+"="+tc.step, childEnvOp+"="+tc.op)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", tc.step, err, out)
			}

			var reopen Options
			if tc.op == "tier-exdev" {
				reopen.rename = crossDevice(new(atomic.Int64))
			}
			m = openManager(t, dir, EngineTSM, c, reopen)
			defer m.Close()
			if _, err := os.Stat(filepath.Join(dir, ManifestName+".tmp")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("MANIFEST.tmp left behind: %v", err)
			}
			tc.check(t, m)
			// Every shard the manifest lists reads exactly its data.
			infos, err := m.Shards()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range infos {
				if _, err := os.Stat(s.Dir); err != nil {
					t.Fatalf("%s (%s): %v", s.ID, s.State, err)
				}
				got, _, err := m.Select(bg, ms(s.Start), ms(s.End)-1)
				if err != nil {
					t.Fatal(err)
				}
				want, err := oracleStore(t, EngineTSM, bs).Select(bg, ms(s.Start), ms(s.End)-1)
				if err != nil {
					t.Fatal(err)
				}
				equalSeries(t, s.ID, got, want)
			}
			// No directory the manifest does not list.
			for _, root := range []string{m.hotDir, m.coldDir} {
				entries, _ := os.ReadDir(root)
				for _, e := range entries {
					found := false
					for _, s := range infos {
						found = found || s.Dir == filepath.Join(root, e.Name())
					}
					if !found {
						t.Fatalf("unlisted directory %s/%s", root, e.Name())
					}
				}
			}
			// And the interrupted work completes.
			if _, err := m.Tier(bg); err != nil {
				t.Fatal(err)
			}
			if _, err := m.EnforceRetention(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// wantState checks one shard's state after the restart ("" = deleted).
func wantState(id string, st State) func(*testing.T, *Manager) {
	return func(t *testing.T, m *Manager) {
		t.Helper()
		infos, err := m.Shards()
		if err != nil {
			t.Fatal(err)
		}
		var got State
		for _, s := range infos {
			if s.ID == id {
				got = s.State
			}
		}
		if got != st {
			t.Fatalf("%s is %q after the crash, want %q", id, got, st)
		}
	}
}
