package tsdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LockFilename is the file in a data directory that Open locks.
const LockFilename = "lock"

// ErrLocked: another process (or another DB of this one) has the data
// directory open. Two writers on one WAL would interleave their records and
// delete each other's segments.
var ErrLocked = errors.New("tsdb: data directory in use")

// lockDir takes an exclusive lock on dir's lock file, as Prometheus does.
// The lock is the kernel's (flock): it goes with the process, kill -9
// included, so a file left behind by a crash locks nothing. The file names
// the process that holds it, for the error of the next one.
func lockDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFilename)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tsdb: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "?"
			}
			return nil, fmt.Errorf("%w: %s is open in another process (pid %s holds %s)", ErrLocked, dir, pid, path)
		}
		return nil, fmt.Errorf("tsdb: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return f.Close, nil // closing the file releases the lock
}
