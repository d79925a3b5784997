package measure

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// DirSize is the length of the regular files under dir added up (what
// `ls -l` shows), 0 if dir does not exist.
//
// A database's directory changes while it is measured: compaction renames
// its temporary block directory into place, a checkpoint removes WAL
// segments. A file or directory that vanishes between being listed and
// being looked at is gone, not an error.
func DirSize(dir string) (int64, error) {
	return walkSize(dir, func(fi fs.FileInfo) int64 { return fi.Size() })
}

// DiskUsage is what the regular files under dir occupy on disk (what `du`
// shows): their allocated blocks, not their length, where the platform
// tells (see DiskBytes), and a file with several names under dir (hard
// links: a snapshot's blocks) once. It tolerates vanishing files as
// DirSize does.
func DiskUsage(dir string) (int64, error) {
	seen := map[fileID]bool{}
	return walkSize(dir, func(fi fs.FileInfo) int64 {
		if id, ok := fileIdentity(fi); ok {
			if seen[id] {
				return 0
			}
			seen[id] = true
		}
		return DiskBytes(fi)
	})
}

// fileID names a file whatever its path: device and inode on unix.
type fileID struct{ dev, ino uint64 }

func walkSize(dir string, size func(fs.FileInfo) int64) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var fi fs.FileInfo
			if fi, err = d.Info(); err == nil {
				n += size(fi)
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	return n, err
}
