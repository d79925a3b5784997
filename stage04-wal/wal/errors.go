package wal

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on (with errors.Is).
var (
	// ErrCorrupt marks damaged log data: a bad checksum, an impossible
	// length, a torn record before the tail, a missing segment, or a
	// record payload that does not decode.
	ErrCorrupt = errors.New("wal: corrupt")
	// ErrClosed is returned by every method of a closed WAL.
	ErrClosed = errors.New("wal: closed")
	// ErrInvalidRecord rejects a record that cannot be logged: empty,
	// type byte 0 (reserved, so that zeroed disk never parses as a
	// record) or longer than MaxRecordSize.
	ErrInvalidRecord = errors.New("wal: invalid record")
	// ErrBadSegment rejects a segment number that a call cannot act on
	// (truncating the live segment, checkpointing past the last one).
	ErrBadSegment = errors.New("wal: bad segment")
)

// CorruptionError locates damage in the log. It matches ErrCorrupt.
type CorruptionError struct {
	Segment    int   // segment number (or checkpoint number if Checkpoint)
	Checkpoint bool  // the damage is in checkpoint.NNNNNNNN, not a segment
	Offset     int64 // byte offset of the first bad frame in that file
	Reason     string
}

func (e *CorruptionError) Error() string {
	what := "segment"
	if e.Checkpoint {
		what = "checkpoint"
	}
	return fmt.Sprintf("wal: %s %d offset %d: corrupt: %s", what, e.Segment, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }
