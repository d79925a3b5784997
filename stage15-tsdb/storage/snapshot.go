package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// SnapshotDirname is the directory, inside the data directory, that holds
// snapshots (as in Prometheus).
const SnapshotDirname = "snapshots"

// Snapshot writes a consistent copy of db's data under
// dir/snapshots/<UTC time>-<random hex> and returns that name. Blocks are
// immutable, so each block's files are hard links (no copy, no extra space);
// the WAL is copied file by file, so opening the snapshot replays the head
// as it was (a record cut short by the copy is dropped by WAL repair, as
// after a crash). Without the WAL (withHead false) the snapshot holds the
// persisted blocks only, like Prometheus's skip_head.
//
// The snapshot directory is itself a data directory: `start --data-dir` on
// it serves what was snapshotted.
func Snapshot(db *tsdb.DB, withHead bool) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	name := time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(rnd[:])
	dst := filepath.Join(db.Dir(), SnapshotDirname, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	// A querier pins the blocks, so compaction cannot delete one while its
	// files are being linked.
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	defer q.Close()
	for _, b := range db.Blocks() {
		if err := linkTree(b.Dir, filepath.Join(dst, filepath.Base(b.Dir))); err != nil {
			return "", fmt.Errorf("snapshot: block %s: %w", b.ULID, err)
		}
	}
	if withHead {
		if err := copyTree(filepath.Join(db.Dir(), tsdb.WALDirname), filepath.Join(dst, tsdb.WALDirname)); err != nil {
			return "", fmt.Errorf("snapshot: wal: %w", err)
		}
	}
	return name, nil
}

// linkTree hard-links every file under src into the same place under dst.
func linkTree(src, dst string) error {
	return walkFiles(src, dst, os.Link)
}

// copyTree copies every file under src into the same place under dst.
func copyTree(src, dst string) error {
	return walkFiles(src, dst, copyFile)
}

func walkFiles(src, dst string, f func(from, to string) error) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		return f(path, to)
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
