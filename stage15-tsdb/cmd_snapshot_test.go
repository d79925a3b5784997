package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSnapshotCLI: `snapshot` prints the real path of the snapshot (no
// literal <data-dir>) and how to serve it; `snapshot list` shows it;
// `snapshot delete` removes it.
func TestSnapshotCLI(t *testing.T) {
	dir := t.TempDir()
	s, _ := inProcess(t, dir, "")
	addr := s.Addr()
	if _, errs, code := runCLI(t, "write", "--addr", addr, "snap_metric 1 1700000000"); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := runCLI(t, "snapshot", "--addr", addr)
	m := regexp.MustCompile(`snapshot (\S+) written to (\S+)\nserve it with: stage15-tsdb start --data-dir (\S+)\n`).FindStringSubmatch(out)
	if code != 0 || m == nil || strings.Contains(out, "<data-dir>") {
		t.Fatalf("snapshot: exit %d\n%s%s", code, out, errs)
	}
	name, path := m[1], m[2]
	if want := filepath.Join(dir, "snapshots", name); path != want || m[3] != want {
		t.Errorf("printed %s, want %s", path, want)
	}
	if _, err := os.Stat(filepath.Join(path, "wal")); err != nil {
		t.Errorf("the printed path holds no snapshot: %v", err)
	}
	out, errs, code = runCLI(t, "snapshot", "list", "--addr", addr)
	if code != 0 || !strings.Contains(out, name) || !strings.Contains(out, "yes") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code = runCLI(t, "snapshot", "delete", "--addr", addr, name); code != 0 || !strings.Contains(out, "deleted snapshot "+name) {
		t.Fatalf("delete: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("snapshot still on disk: %v", err)
	}
	if _, _, code = runCLI(t, "snapshot", "delete", "--addr", addr, name); code == 0 {
		t.Error("deleting a deleted snapshot succeeded")
	}
	if out, _, _ = runCLI(t, "snapshot", "list", "--addr", addr); !strings.Contains(out, "no snapshots") {
		t.Errorf("list after delete: %s", out)
	}
}
