package shard

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crossDevice is a rename that fails as os.Rename does between two file
// systems, counting its calls.
func crossDevice(calls *atomic.Int64) func(string, string) error {
	return func(from, to string) error {
		calls.Add(1)
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EXDEV}
	}
}

// TestColdMoveAcrossFileSystems: with every rename failing with EXDEV,
// tiering copies the shards into the cold directory: the cold ones live
// there only (no source, no half copy left), read exactly their data, and
// keep doing so after a restart; a non-EXDEV failure is reported and
// leaves the shard readable where it was, and the next Open finishes it.
func TestColdMoveAcrossFileSystems(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			dir, cold := t.TempDir(), t.TempDir()
			g := gen{hosts: 3, fields: 2, start: ms(day("2024-01-11")), end: ms(day("2024-01-15").Add(12 * time.Hour)), step: 5 * 60 * 1000}
			c := &clock{day("2024-01-15").Add(12 * time.Hour)}
			pol := Policy{WarmAfter: 0, ColdAfter: 48 * time.Hour, Retention: 30 * 24 * time.Hour}
			var calls atomic.Int64
			opts := Options{Policy: &pol, ColdDir: cold, rename: crossDevice(&calls)}
			m := openManager(t, dir, eng, c, opts)
			bs := g.batches(24)
			writeAll(t, m.Write, bs)
			oracle, err := oracleStore(t, eng, bs).Select(bg, -1<<62, 1<<62)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Tier(bg); err != nil {
				t.Fatal(err)
			}
			check := func(m *Manager, wantCold int) {
				t.Helper()
				infos, err := m.Shards()
				if err != nil {
					t.Fatal(err)
				}
				nCold := 0
				for _, s := range infos {
					other := filepath.Join(cold, s.ID)
					if s.State == Cold {
						nCold++
						other = filepath.Join(dir, "hot", s.ID)
					}
					if _, err := os.Stat(s.Dir); err != nil || s.Bytes == 0 {
						t.Fatalf("%s (%s) at %s: %d bytes, %v", s.ID, s.State, s.Dir, s.Bytes, err)
					}
					if _, err := os.Stat(other); !errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("%s (%s) also at %s: %v", s.ID, s.State, other, err)
					}
				}
				if nCold != wantCold {
					t.Fatalf("%d cold shards, want %d", nCold, wantCold)
				}
				entries, _ := os.ReadDir(cold)
				for _, e := range entries {
					if strings.HasSuffix(e.Name(), movingSuffix) {
						t.Fatalf("half copy %s left behind", e.Name())
					}
				}
				got, _, err := m.Select(bg, -1<<62, 1<<62)
				if err != nil {
					t.Fatal(err)
				}
				equalSeries(t, "after the copy", got, oracle)
			}
			check(m, 2)
			if calls.Load() < 2 {
				t.Fatalf("rename called %d times: the copy path was not taken", calls.Load())
			}
			m.Close()
			m = openManager(t, dir, eng, c, Options{ColdDir: cold})
			check(m, 2)

			// Another failure is not a cross-device one: no copy, an
			// error, the shard still readable in the hot tree.
			c.t = c.t.Add(24 * time.Hour)
			m.rename = func(string, string) error { return syscall.EACCES }
			if _, err := m.Tier(bg); !errors.Is(err, syscall.EACCES) {
				t.Fatalf("Tier with a failing rename: %v, want EACCES", err)
			}
			got, _, err := m.Select(bg, -1<<62, 1<<62)
			if err != nil {
				t.Fatal(err)
			}
			equalSeries(t, "after a failed move", got, oracle)
			m.Close()
			// The manifest committed cold before the move: Open finishes
			// it, across file systems again.
			calls.Store(0)
			m = openManager(t, dir, eng, c, Options{ColdDir: cold, rename: crossDevice(&calls)})
			defer m.Close()
			if calls.Load() != 1 {
				t.Fatalf("Open moved %d shards, want 1", calls.Load())
			}
			check(m, 3)
		})
	}
}

// TestCopyTree: the copy has the same tree, bytes and permissions.
func TestCopyTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	files := map[string]string{"a": "alpha", "sub/b": strings.Repeat("b", 100_000), "sub/deeper/c": "", "d": "delta"}
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if err := copyTree(src, dst, func(string) {}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		want, ok := files[filepath.ToSlash(rel)]
		got, rerr := os.ReadFile(p)
		if !ok || rerr != nil || !bytes.Equal(got, []byte(want)) {
			t.Fatalf("%s: %d bytes (%v), want %d (listed %v)", rel, len(got), rerr, len(want), ok)
		}
		if fi, _ := d.Info(); fi.Mode().Perm() != 0o640 {
			t.Fatalf("%s: mode %v, want 0640", rel, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil || n != len(files) {
		t.Fatalf("%d files copied (%v), want %d", n, err, len(files))
	}
	if fi, err := os.Stat(filepath.Join(dst, "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("empty directory not copied: %v", err)
	}
	// The destination must be new: a copy never merges into a tree.
	if err := copyTree(src, dst, func(string) {}); err == nil {
		t.Fatal("copy onto an existing directory succeeded")
	}
}
