//go:build unix

package measure

import (
	"io/fs"
	"syscall"
)

// DiskBytes is what a file occupies on disk: its allocated blocks, in the
// 512-byte units st_blocks counts on every unix, not its length. A sparse
// file (stage06 sizes a head-chunks file to 128 MiB at creation and fills
// it as samples come) takes only the blocks written to, and that is what
// deleting it frees.
func DiskBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}

// fileIdentity is the file's device and inode.
func fileIdentity(fi fs.FileInfo) (fileID, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), st.Ino}, true
	}
	return fileID{}, false
}
