package wal

import (
	"errors"
	"fmt"
	"os"
)

// RepairReport says what Repair found and cut.
type RepairReport struct {
	// Damage is the first damaged frame (or missing segment); nil when
	// the log was intact and nothing was changed.
	Damage *CorruptionError
	// Torn is true when the damage was a torn tail (Open would have cut
	// it too); false for corruption before the tail.
	Torn bool
	// KeptRecords is the number of valid records before the damage, all
	// of which are kept.
	KeptRecords int
	// TruncatedBytes were cut from the damaged file.
	TruncatedBytes int64
	// RemovedSegments are the segments after the damage, deleted whole.
	RemovedSegments []int
}

// Repair cuts the log at its first damage: the damaged file is truncated
// at the bad frame's offset and every later segment is deleted, so
// everything before the damage is kept and nothing after it is replayed
// out of order. A log that reads cleanly is left unchanged.
//
// Repair is the explicit answer to a *CorruptionError from NewReader, Open
// or Reader.Err; it must not run while a WAL is open on dir. What it
// deletes is lost: records after mid-log corruption may have been
// acknowledged, which is why the reader reports instead of repairing.
func Repair(dir string) (RepairReport, error) {
	var rep RepairReport
	c, err := listDir(dir)
	if err != nil {
		return rep, err
	}
	files, err := c.liveFiles(dir)
	var cerr *CorruptionError
	if err != nil {
		if !errors.As(err, &cerr) {
			return rep, err
		}
		// A gap: keep the segments before it, delete those after.
		rep.Damage = cerr
		rep.RemovedSegments, err = removeSegmentsAfter(dir, c.segments, cerr.Segment)
		if err != nil {
			return rep, err
		}
		// Re-list: the part before the gap may hold damage too.
		inner, err := Repair(dir)
		if inner.Damage == nil {
			inner.Damage = cerr
		}
		inner.RemovedSegments = append(inner.RemovedSegments, rep.RemovedSegments...)
		return inner, err
	}
	r := newReader(files, true)
	for r.Next() {
		rep.KeptRecords++
	}
	r.Close()
	err = r.Err()
	switch {
	case err == nil:
		stats := r.Stats()
		if len(stats) == 0 || !stats[len(stats)-1].TornTail {
			return rep, nil
		}
		last := stats[len(stats)-1]
		rep.Damage = &CorruptionError{Segment: last.Index, Offset: last.TailOffset, Reason: last.TailReason}
		rep.Torn = true
	case errors.As(err, &cerr):
		rep.Damage = cerr
	default:
		return rep, err
	}
	d := rep.Damage
	path := files[0].path
	for _, f := range files {
		if f.index == d.Segment && f.checkpoint == d.Checkpoint {
			path = f.path
		}
	}
	// Later segments go first: a crash between the two steps then leaves
	// a log that ends at the damage, never one with a hole in the middle.
	// (For damage in a checkpoint, every segment after it goes.)
	if rep.RemovedSegments, err = removeSegmentsAfter(dir, c.segments, d.Segment); err != nil {
		return rep, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return rep, fmt.Errorf("wal: repair: %w", err)
	}
	if err := truncateFile(path, d.Offset); err != nil {
		return rep, fmt.Errorf("wal: repair: segment %d offset %d: %w", d.Segment, d.Offset, err)
	}
	rep.TruncatedBytes = fi.Size() - d.Offset
	return rep, nil
}

// removeSegmentsAfter deletes segments numbered > n (newest first, so a
// crash midway never leaves a gap) and fsyncs the directory.
func removeSegmentsAfter(dir string, segs []int, n int) ([]int, error) {
	var removed []int
	for i := len(segs) - 1; i >= 0 && segs[i] > n; i-- {
		if err := os.Remove(segmentPath(dir, segs[i])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("wal: repair: remove segment %d: %w", segs[i], err)
		}
		removed = append([]int{segs[i]}, removed...)
	}
	if len(removed) > 0 {
		return removed, SyncDir(dir)
	}
	return removed, nil
}
