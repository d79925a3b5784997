package chunks

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only and shared. Shared matters for the
// head-chunks file: bytes written with WriteAt after the mapping was made are
// visible through it at once, because both go through the same page cache.
// A zero size maps nothing (mmap rejects it) and returns an empty slice.
func mapFile(f *os.File, size int) ([]byte, error) {
	if size == 0 {
		return []byte{}, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("chunks: mmap %s: %w", f.Name(), err)
	}
	return b, nil
}

// unmap releases a mapping made by mapFile.
func unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return syscall.Munmap(b)
}

// MapFile maps a whole file read-only; the block reader uses it for the
// index. The file may be closed once mapped.
func MapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return mapFile(f, int(fi.Size()))
}

// Unmap releases a mapping made by MapFile.
func Unmap(b []byte) error { return unmap(b) }
