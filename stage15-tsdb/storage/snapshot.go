package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// SnapshotDirname is the directory, inside the data directory, that holds
// snapshots (as in Prometheus).
const SnapshotDirname = "snapshots"

// Snapshot writes a consistent copy of db's data under
// dir/snapshots/<UTC time>-<random hex> and returns that name. What never
// changes once written is hard-linked (no copy, no extra space): every
// block's files, the WAL's checkpoint and its closed segments. Only the
// segment being written is copied, so a snapshot costs about one segment
// (16 MiB at most) of new space; opening it replays the head as it was (a
// record cut short by the copy is dropped as a torn tail, as after a
// crash). Without the WAL (withHead false) the snapshot holds the persisted
// blocks only, like Prometheus's skip_head. A linked file shares its bytes
// with the data directory: deleting either side frees nothing until both
// are gone, and nothing ever writes into a closed segment or a block.
//
// The caller must keep compaction (which checkpoints the WAL and deletes
// segments and blocks) from running meanwhile.
//
// The snapshot directory is itself a data directory: `start --data-dir` on
// it serves what was snapshotted.
func Snapshot(db *tsdb.DB, withHead bool) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	name := time.Now().UTC().Format(snapshotTimeFormat) + "-" + hex.EncodeToString(rnd[:])
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
		if err := snapshotWAL(filepath.Join(db.Dir(), tsdb.WALDirname), filepath.Join(dst, tsdb.WALDirname)); err != nil {
			return "", fmt.Errorf("snapshot: wal: %w", err)
		}
	}
	return name, nil
}

// snapshotWAL links the checkpoint and the closed segments of the WAL in
// src into dst and copies the segment being written (the last one).
// Unfinished checkpoints (.tmp) are left out, as a reader would ignore them.
func snapshotWAL(src, dst string) error {
	_, last, ok, err := wal.Segments(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		from, to := filepath.Join(src, name), filepath.Join(dst, name)
		switch {
		case strings.HasSuffix(name, ".tmp"):
		case e.IsDir():
			err = linkTree(from, to)
		case ok && name == wal.SegmentName(last):
			err = copyFile(from, to)
		default:
			err = os.Link(from, to)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// SnapshotInfo describes one snapshot.
type SnapshotInfo struct {
	Name    string
	Time    time.Time // when it was taken (from its name)
	Blocks  int       // block directories in it (those with a meta.json)
	WithWAL bool      // whether it holds the head (the WAL)
	Bytes   int64     // the size of its files (hard links counted in full)
}

// ErrNoSnapshot is returned for a snapshot name that does not exist (or is
// not a snapshot's name).
var ErrNoSnapshot = errors.New("no such snapshot")

// ListSnapshots lists the snapshots under dataDir/snapshots, oldest first.
func ListSnapshots(dataDir string) ([]SnapshotInfo, error) {
	entries, err := os.ReadDir(filepath.Join(dataDir, SnapshotDirname))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	var out []SnapshotInfo
	for _, e := range entries {
		t, ok := snapshotTime(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		info := SnapshotInfo{Name: e.Name(), Time: t}
		dir := filepath.Join(dataDir, SnapshotDirname, e.Name())
		subs, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("snapshots: %w", err)
		}
		for _, s := range subs {
			switch {
			case s.Name() == tsdb.WALDirname:
				info.WithWAL = true
			case s.IsDir():
				if _, err := os.Stat(filepath.Join(dir, s.Name(), "meta.json")); err == nil {
					info.Blocks++
				}
			}
		}
		if info.Bytes, err = measure.DirSize(dir); err != nil {
			return nil, fmt.Errorf("snapshots: %w", err)
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b SnapshotInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteSnapshot removes the snapshot name from dataDir/snapshots. Only a
// name of Snapshot's form is accepted, so no path can reach outside.
func DeleteSnapshot(dataDir, name string) error {
	if _, ok := snapshotTime(name); !ok {
		return fmt.Errorf("snapshot %q: %w", name, ErrNoSnapshot)
	}
	dir := filepath.Join(dataDir, SnapshotDirname, name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot %q: %w", name, ErrNoSnapshot)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("snapshot %q: %w", name, err)
	}
	return nil
}

// snapshotTime parses a name of Snapshot's form: 20060102T150405Z-<16 hex>.
func snapshotTime(name string) (time.Time, bool) {
	ts, rnd, ok := strings.Cut(name, "-")
	if !ok || len(rnd) != 16 {
		return time.Time{}, false
	}
	if _, err := hex.DecodeString(rnd); err != nil {
		return time.Time{}, false
	}
	t, err := time.Parse(snapshotTimeFormat, ts)
	return t, err == nil
}

const snapshotTimeFormat = "20060102T150405Z"

// linkTree hard-links every file under src into the same place under dst.
func linkTree(src, dst string) error {
	return walkFiles(src, dst, os.Link)
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
