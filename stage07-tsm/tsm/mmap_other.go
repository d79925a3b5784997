//go:build !unix

package tsm

import (
	"io"
	"os"
)

// mmapFile reads the whole file where mmap is not available.
func mmapFile(f *os.File, size int) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(f, b)
	return b, err
}

func munmap([]byte) error { return nil }
