package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ClosedMarkerName is the file a clean Close leaves in the WAL directory:
// one line, "NNNNNNNN SIZE", the last segment and its size. Open reads it
// and removes it before anything new is logged.
//
// Why: after a crash the end of the last segment may be torn, and Open cuts
// the torn bytes off. That rule cannot tell a torn write from a segment cut
// short later (a bad copy, a file system losing pages after a clean
// shutdown): both end in half a record, or at a record boundary. The marker
// tells them apart. With it, the last segment must be exactly as Close left
// it: shorter, or damaged at its end, is corruption, reported and never cut
// away; without it (the process died), a torn end is the crash's.
const ClosedMarkerName = "closed"

// closedMarker is what the marker file says.
type closedMarker struct {
	segment int
	size    int64
}

// readClosedMarker returns the marker of dir, nil if there is none. A
// marker that does not parse is treated as absent: it can only make Open
// stricter, never laxer, so ignoring it loses nothing the tail rule keeps.
func readClosedMarker(dir string) (*closedMarker, error) {
	b, err := os.ReadFile(filepath.Join(dir, ClosedMarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var m closedMarker
	var name string
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%s %d", &name, &m.size); err != nil {
		return nil, nil
	}
	n, ok := parseIndex(name)
	if !ok || m.size < 0 {
		return nil, nil
	}
	m.segment = n
	return &m, nil
}

// writeClosedMarker records that segment n ends at size (durably unless
// sync is false: a log that is never fsynced gets a marker that is not
// either).
func writeClosedMarker(dir string, n int, size int64, sync bool) error {
	tmp := filepath.Join(dir, ClosedMarkerName+tmpSuffix)
	b := fmt.Appendf(nil, "%s %d\n", SegmentName(n), size)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: closed marker: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ClosedMarkerName))
	}
	if err != nil {
		return fmt.Errorf("wal: closed marker: %w", err)
	}
	if !sync {
		return nil
	}
	return SyncDir(dir)
}

// removeClosedMarker removes the marker durably: from now on the log may
// change, and a crash must not leave a marker that no longer holds.
func removeClosedMarker(dir string) error {
	err := os.Remove(filepath.Join(dir, ClosedMarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return SyncDir(dir)
}
