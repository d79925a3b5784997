package tsm

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
)

// The crash tests run the test binary itself as a writer: TestMain sees the
// environment variable and becomes the child instead of running tests.
const (
	childEnvDir   = "TSM_TEST_CHILD_DIR"
	childEnvPoint = "TSM_TEST_CHILD_POINT" // hook point to stop at, or "" (killed at random)
	childKeys     = 20
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnvDir); dir != "" {
		if err := crashChild(dir, os.Getenv(childEnvPoint)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childKey(k int) string             { return fmt.Sprintf("m,k=%02d#!~#v", k) }
func childValue(k int, b int64) float64 { return float64(b)*100 + float64(k) + 0.5 }

// crashChild writes batch after batch (20 keys at t = batch number) with a
// tiny cache, so flushes and compactions run all the time, printing
// "ack B" after each acknowledged write. With a hook point it announces
// "stopped POINT" the second time the point is reached and waits there to
// be killed.
func crashChild(dir, point string) error {
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex // out and seen: the hook runs in the flush and compaction goroutines
	opts := Options{CacheMaxSize: 16 << 10, AutoCompact: true, WAL: wal.Options{Sync: wal.SyncBatch, SegmentSize: 64 << 10}}
	seen := 0
	opts.hook = func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		if seen++; seen == 2 {
			fmt.Fprintf(out, "stopped %s\n", p)
			out.Flush()
			// Keep mu: no more acks are printed while the process waits
			// for SIGKILL (a sleeping goroutine keeps the runtime from
			// declaring a deadlock).
			time.Sleep(time.Hour)
		}
		mu.Unlock()
	}
	e, err := Open(dir, opts)
	if err != nil {
		return err
	}
	for b := int64(0); b < 200_000; b++ {
		batch := NewBatch()
		for k := range childKeys {
			batch.Add([]byte(childKey(k)), FloatType, b, math.Float64bits(childValue(k, b)), "")
		}
		if err := e.WriteBatch(batch); err != nil {
			return err
		}
		mu.Lock()
		fmt.Fprintf(out, "ack %d\n", b)
		out.Flush()
		mu.Unlock()
	}
	return nil
}

// TestCrashDuringFlushAndCompaction SIGKILLs a real child process at each
// step of a flush and of a compaction, and at an arbitrary moment, then
// checks: every file the manifest lists is complete (opens, CRCs valid),
// Open removes the leftovers, and every acknowledged write is back with its
// exact value.
func TestCrashDuringFlushAndCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, c := range []struct{ name, point string }{
		{"flush before the file is written", "flush:snapshot"},
		{"flush after the file is renamed, before the manifest", "flush:written"},
		{"compaction after the output is renamed, before the manifest", "compact:written"},
		{"after a manifest commit, before inputs are deleted", "install:committed"},
		{"compaction installed, before its inputs are deleted", "compact:installed"},
		{"at an arbitrary moment", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnvDir+"="+dir, childEnvPoint+"="+c.point)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			mustNoErr(t, err)
			mustNoErr(t, cmd.Start())
			acked := int64(-1)
			stopped := false
			sc := bufio.NewScanner(stdout)
			deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "stopped ") {
					stopped = true
					break
				}
				if n, ok := strings.CutPrefix(line, "ack "); ok {
					acked, _ = strconv.ParseInt(n, 10, 64)
					if c.point == "" && acked == 1500 {
						break
					}
				}
			}
			deadline.Stop()
			mustNoErr(t, cmd.Process.Signal(syscall.SIGKILL))
			cmd.Wait()
			if c.point != "" && !stopped {
				t.Fatalf("child never reached %s (acked %d)", c.point, acked)
			}
			if acked < 0 {
				t.Fatal("nothing acknowledged")
			}
			// No half-visible file: everything the manifest lists is whole.
			m, err := readManifest(dir)
			mustNoErr(t, err)
			for _, name := range m.Files {
				r, err := OpenReader(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("listed file %s: %v", name, err)
				}
				r.Close()
			}
			// At these points a complete but uncommitted file is on disk:
			// the crash really left something for Open to clean up.
			// At compact:installed the inputs are the uncommitted leftovers.
			if c.point == "flush:written" || c.point == "compact:written" || c.point == "compact:installed" {
				ents, _ := os.ReadDir(dir)
				orphans := 0
				for _, x := range ents {
					if strings.HasSuffix(x.Name(), ".tsm") && !contains(m.Files, x.Name()) {
						orphans++
					}
				}
				if orphans == 0 {
					t.Fatalf("no uncommitted file on disk at %s", c.point)
				}
			}
			e, err := Open(dir, Options{})
			mustNoErr(t, err)
			defer e.Close()
			ents, _ := os.ReadDir(dir)
			m, _ = readManifest(dir)
			for _, x := range ents {
				if x.Name() != "wal" && x.Name() != manifestName && !strings.HasSuffix(x.Name(), ".tombstone") {
					if _, _, ok := parseFileName(x.Name()); !ok || !contains(m.Files, x.Name()) {
						t.Errorf("after Open: unexpected file %s", x.Name())
					}
				}
			}
			for k := range childKeys {
				v, _, err := e.Read(childKey(k), 0, math.MaxInt64)
				mustNoErr(t, err)
				if int64(v.Len()) < acked+1 {
					t.Fatalf("key %d: %d values recovered, %d acknowledged", k, v.Len(), acked+1)
				}
				for i := range v.T {
					if v.T[i] != int64(i) || v.Float(i) != childValue(k, v.T[i]) {
						t.Fatalf("key %d value %d: t=%d v=%v", k, i, v.T[i], v.Float(i))
					}
				}
			}
			t.Logf("acked %d batches; %d files live after recovery (%v)", acked+1, len(m.Files), m.Files)
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
