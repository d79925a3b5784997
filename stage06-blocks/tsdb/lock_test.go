package tsdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenLocksDir: a second Open of a directory in use fails with
// ErrLocked naming the holder, and so does Repair; after Close the
// directory opens again, and a lock file left behind (a crash) locks
// nothing.
func TestOpenLocksDir(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	if _, err := Open(dir, testOpts()); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint("pid ", os.Getpid())) {
		t.Fatalf("second Open: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if _, err := Repair(dir, testOpts()); !errors.Is(err, ErrLocked) {
		t.Fatalf("Repair of an open dir: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFilename)); err != nil {
		t.Fatalf("lock file: %v", err) // left behind, as after a crash
	}
	db = openDB(t, dir, testOpts())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Repair(dir, testOpts()); err != nil {
		t.Fatal(err)
	}
	if d, err := Check(dir, testOpts()); err != nil || d.Refused || len(d.Blocks) > 0 || d.String() != "" {
		t.Fatalf("Check after lock file: %+v, %v", d, err)
	}
}
