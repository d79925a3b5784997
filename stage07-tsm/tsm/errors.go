package tsm

import "errors"

// Sentinel errors callers branch on (errors.Is).
var (
	// ErrCorrupt marks a TSM, tombstone or manifest file that does not
	// decode: bad magic, checksum mismatch, impossible offsets or lengths.
	ErrCorrupt = errors.New("tsm: corrupt")
	// ErrFieldType rejects a write whose value type differs from the type
	// the key already has (InfluxDB's "field type conflict").
	ErrFieldType = errors.New("tsm: field type conflict")
	// ErrInvalidKey rejects a key the format cannot hold: empty, longer
	// than maxKeySize (64 KiB - 1), or containing the field separator twice.
	ErrInvalidKey = errors.New("tsm: invalid key")
	// ErrCacheFull rejects a write that finds the cache and the snapshot
	// being flushed at Options.CacheHardLimit (with RejectWhenFull; without
	// it the write waits for room).
	ErrCacheFull = errors.New("tsm: cache full")
	// ErrClosed is returned by every method of a closed engine.
	ErrClosed = errors.New("tsm: engine closed")
)
