// Package wal is a write-ahead log for a time-series database: every write is
// appended to a sequential log, and made durable, before it is applied to the
// in-memory head; after a crash the log is read back in order to rebuild the
// head. Appending is fast because the disk only ever sees sequential writes,
// and because many records share one fsync (group commit, SyncBatch).
//
// The log is a directory of numbered segment files, 00000000, 00000001, …
// (eight decimal digits, so that a plain name sort is the log order). A
// segment is a sequence of frames:
//
//	length uint32 LE | CRC-32C uint32 LE | type byte | payload
//
// A record never spans two segments; a segment is rotated once the next
// frame would take it past Options.SegmentSize. The README gives the format
// byte by byte.
//
// The log itself stores opaque records (WAL.Log, Reader); record.go adds the
// typed records a TSDB head needs (series, samples, tombstones), and
// checkpoint.go compacts the segments a block has made redundant into one
// checkpoint file so the directory does not grow forever.
//
// Errors: corruption is reported as a *CorruptionError naming the segment and
// offset; it matches ErrCorrupt with errors.Is. Nothing here panics on bad
// input and nothing logs.
package wal
