package shard

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/tsdb-course/stage04-wal/wal"
)

// Crash points of a move across file systems (see crashHook).
const (
	stepColdCopying   = "cold-copying"   // some files copied into <id>.moving
	stepColdCopied    = "cold-copied"    // the copy is whole and synced, not yet in place
	stepColdInstalled = "cold-installed" // the copy is in place, the source still there
)

// movingSuffix names the directory a copy is built in beside its
// destination. It starts with the shard's id, so Open removes a leftover
// one as an unlisted shard directory.
const movingSuffix = ".moving"

// moveDir moves a shard directory into another tier and makes the move
// durable. When both tiers are on one file system it is one rename, which
// is atomic, and the parent directories are synced. A rename across file
// systems fails with EXDEV; then the directory is copied instead
// (copyMove). The engine is closed while this runs.
func (m *Manager) moveDir(from, to string) error {
	err := m.rename(from, to)
	if err == nil {
		m.crashPoint(stepColdMoved)
		return errors.Join(wal.SyncDir(filepath.Dir(from)), wal.SyncDir(filepath.Dir(to)))
	}
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	return m.copyMove(from, to)
}

// copyMove moves a directory across file systems in three steps, each
// durable before the next, so that at every instant one whole copy of the
// shard exists under a name Open understands:
//
//  1. copy into to.moving, fsyncing every file and directory;
//  2. rename to.moving to to (same file system: atomic), fsync its parent;
//  3. remove from, fsync its parent.
//
// The manifest already says cold (toCold commits before it moves), so
// after a crash Open's finishMove sees: no `to` yet → the source is whole,
// the move starts again (a partial to.moving is removed first); `to` and
// the source both there → step 3 is what was left, it removes the source.
func (m *Manager) copyMove(from, to string) error {
	tmp := to + movingSuffix
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := copyTree(from, tmp, m.crashPoint); err != nil {
		return errors.Join(fmt.Errorf("copying %s: %w", from, err), os.RemoveAll(tmp))
	}
	m.crashPoint(stepColdCopied)
	if err := os.Rename(tmp, to); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := wal.SyncDir(filepath.Dir(to)); err != nil {
		return err
	}
	m.crashPoint(stepColdInstalled)
	return removeDir(from)
}

// removeDir removes a directory tree and makes the removal durable.
func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return wal.SyncDir(filepath.Dir(dir))
}

// copyTree copies the directory from to the new directory to: regular
// files and directories (all a shard's engine writes), modes kept, each
// file fsynced, then every directory fsynced, deepest first, so the names
// are durable too.
func copyTree(from, to string, at func(step string)) error {
	var dirs []string
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, dst)
			return os.Mkdir(dst, info.Mode().Perm()|0o700)
		case d.Type().IsRegular():
			if err := copyFile(path, dst, info.Mode().Perm()); err != nil {
				return err
			}
			at(stepColdCopying)
			return nil
		}
		return fmt.Errorf("%s: cannot copy a %s", path, d.Type())
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := wal.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, perm fs.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
