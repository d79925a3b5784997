package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Segment files are named by their number in eight decimal digits,
// 00000000 … 99999999, so that a name sort is the log order and a person
// reading `ls` sees it too. Checkpoints are checkpoint.NNNNNNNN, where NNNNNNNN
// is the last segment the checkpoint covers; one being written carries the
// suffix .tmp until it is complete.
const (
	segmentDigits    = 8
	checkpointPrefix = "checkpoint."
	tmpSuffix        = ".tmp"
)

// SegmentName is the file name of segment n.
func SegmentName(n int) string { return fmt.Sprintf("%0*d", segmentDigits, n) }

// CheckpointName is the file name of the checkpoint covering segments ≤ n.
func CheckpointName(n int) string { return checkpointPrefix + SegmentName(n) }

// parseIndex parses an eight-digit segment number.
func parseIndex(s string) (int, bool) {
	if len(s) != segmentDigits {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// dirContents is what a WAL directory holds.
type dirContents struct {
	segments    []int // sorted
	checkpoints []int // sorted
	tmp         []string
	closed      *closedMarker // left by a clean Close, nil after a crash
}

func (c dirContents) lastCheckpoint() (int, bool) {
	if len(c.checkpoints) == 0 {
		return 0, false
	}
	return c.checkpoints[len(c.checkpoints)-1], true
}

// listDir reads the directory; names it does not know are left alone.
func listDir(dir string) (dirContents, error) {
	var c dirContents
	entries, err := os.ReadDir(dir)
	if err != nil {
		return c, fmt.Errorf("wal: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpSuffix) && (strings.HasPrefix(name, checkpointPrefix) || name == ClosedMarkerName+tmpSuffix):
			c.tmp = append(c.tmp, name)
		case strings.HasPrefix(name, checkpointPrefix):
			if n, ok := parseIndex(strings.TrimPrefix(name, checkpointPrefix)); ok && e.Type().IsRegular() {
				c.checkpoints = append(c.checkpoints, n)
			}
		default:
			if n, ok := parseIndex(name); ok && e.Type().IsRegular() {
				c.segments = append(c.segments, n)
			}
		}
	}
	slices.Sort(c.segments)
	slices.Sort(c.checkpoints)
	c.closed, err = readClosedMarker(dir)
	return c, err
}

// Segments returns the first and last segment numbers in dir; ok is false
// when there is none.
func Segments(dir string) (first, last int, ok bool, err error) {
	c, err := listDir(dir)
	if err != nil || len(c.segments) == 0 {
		return 0, 0, false, err
	}
	return c.segments[0], c.segments[len(c.segments)-1], true, nil
}

// liveFiles is the list a reader replays: the newest checkpoint, then every
// segment after it. Segments the checkpoint covers are skipped even if still
// present (a crash after the checkpoint's rename but before their deletion).
// A gap in the numbering is corruption: a deleted middle segment would
// silently drop writes.
func (c dirContents) liveFiles(dir string) ([]logFile, error) {
	var files []logFile
	after := -1
	if cp, ok := c.lastCheckpoint(); ok {
		files = append(files, logFile{path: filepath.Join(dir, CheckpointName(cp)), index: cp, checkpoint: true})
		after = cp
	}
	prev := -1
	for _, s := range c.segments {
		if s <= after {
			continue
		}
		if prev >= 0 && s != prev+1 {
			return nil, &CorruptionError{Segment: prev + 1, Reason: fmt.Sprintf("segment missing (have %s and %s)", SegmentName(prev), SegmentName(s))}
		}
		if prev < 0 && after >= 0 && s != after+1 {
			return nil, &CorruptionError{Segment: after + 1, Reason: fmt.Sprintf("segment missing after %s", CheckpointName(after))}
		}
		files = append(files, logFile{path: filepath.Join(dir, SegmentName(s)), index: s})
		prev = s
	}
	return files, nil
}

// logFile is one file of the log as the reader sees it.
type logFile struct {
	path       string
	index      int
	checkpoint bool
}

func (f logFile) name() string {
	if f.checkpoint {
		return CheckpointName(f.index)
	}
	return SegmentName(f.index)
}

// createSegment creates segment n, failing if it exists: two writers on one
// directory must not interleave their frames.
func createSegment(dir string, n int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, SegmentName(n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("wal: create segment %d: %w", n, err)
	}
	return f, nil
}

// SyncDir fsyncs a directory, which makes a create, rename or remove in it
// durable. Without it a power cut can bring back a deleted segment or lose a
// new one even though the file's own data was fsynced. Every stage that
// publishes a file by renaming it (blocks, TSM files, manifests) calls it.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: sync dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("wal: sync dir %s: %w", dir, err)
	}
	return nil
}

// removeSegments deletes segments ≤ upto (all of them when upto is
// the last), then fsyncs the directory. It returns the numbers removed.
func removeSegments(dir string, segs []int, upto int) ([]int, error) {
	var removed []int
	for _, s := range segs {
		if s > upto {
			break
		}
		if err := os.Remove(filepath.Join(dir, SegmentName(s))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("wal: remove segment %d: %w", s, err)
		}
		removed = append(removed, s)
	}
	if len(removed) > 0 {
		return removed, SyncDir(dir)
	}
	return removed, nil
}

func segmentPath(dir string, n int) string { return filepath.Join(dir, SegmentName(n)) }
