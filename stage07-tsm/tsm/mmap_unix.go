//go:build unix

package tsm

import (
	"os"
	"syscall"
)

// mmapFile maps f read-only. Why mmap: the OS page cache then holds the hot
// parts of the index and blocks, shared by every query, without the engine
// managing a cache of its own; pages of keys nobody reads are never loaded.
func mmapFile(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
}

func munmap(b []byte) error { return syscall.Munmap(b) }
