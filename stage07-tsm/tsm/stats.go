package tsm

import (
	"path/filepath"

	"github.com/tsdb-course/stage04-wal/wal"
)

// Stats is a snapshot of the engine's state and counters.
type Stats struct {
	CacheBytes, CacheValues int64
	CacheKeys               int
	SnapshotBytes           int64 // a flush in progress
	Files                   []FileInfo
	WAL                     wal.Stats
	Flushes, Compactions    int64
	FlushBytes              int64 // bytes of TSM files written by flushes
	CompactBytes            int64 // … and by compactions
	// CompactErr is the error of the last background compaction (level or
	// cold), nil once one succeeds. A failed compaction loses nothing (its
	// inputs stay live); the next check retries.
	CompactErr error
}

// FileInfo describes a live TSM file.
type FileInfo struct {
	Name       string
	Generation int
	Level      int
	Size       int64
	Keys       int
	Tombstones int
}

// Stats returns the engine's state.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	c, snap := e.cache, e.snap
	s := Stats{Files: make([]FileInfo, 0, len(e.files))}
	// Sizes read under mu: a flush swaps cache and snapshot under it, so
	// CacheBytes + SnapshotBytes is the memory at one moment.
	s.CacheBytes = c.Size()
	if snap != nil {
		s.SnapshotBytes = snap.Size()
	}
	for _, f := range e.files {
		s.Files = append(s.Files, FileInfo{Name: filepath.Base(f.Path()), Generation: e.gens[f], Level: f.Level(),
			Size: f.Size(), Keys: f.KeyCount(), Tombstones: f.Tombstones().Len()})
	}
	e.mu.RUnlock()
	s.CacheValues, s.CacheKeys = c.Len(), c.Keys()
	s.WAL = e.w.Stats()
	s.Flushes, s.Compactions = e.flushes.Load(), e.compactions.Load()
	s.FlushBytes, s.CompactBytes = e.flushBytes.Load(), e.compactBytes.Load()
	if p := e.compactErr.Load(); p != nil {
		s.CompactErr = *p
	}
	return s
}
