package tsm

import (
	"fmt"

	"github.com/tsdb-course/stage04-wal/wal"
)

// replay applies the WAL segments after the manifest's wal_flushed_upto to
// the cache (and re-applies deletes to the files: recording a tombstone
// twice is harmless), then removes the segments the files already cover.
func (e *Engine) replay() error {
	r, err := wal.NewReader(e.w.Dir())
	if err != nil {
		return fmt.Errorf("tsm: replay: %w", err)
	}
	defer r.Close()
	b := NewBatch()
	for r.Next() {
		if seg, _, _ := r.Position(); seg <= e.man.WALFlushedUpto {
			continue
		}
		rec := r.Record()
		switch wal.Type(rec) {
		case recordWrite:
			if err := decodeWriteRecord(rec, b); err != nil {
				return fmt.Errorf("tsm: replay: %w", err)
			}
			if err := e.checkTypes(b); err != nil {
				return fmt.Errorf("tsm: replay: %w", err)
			}
			e.cache.Write(b)
		case recordDelete:
			keys, min, max, err := decodeDeleteRecord(rec)
			if err != nil {
				return fmt.Errorf("tsm: replay: %w", err)
			}
			if err := e.applyDelete(keys, min, max); err != nil {
				return err
			}
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("tsm: replay: %w", err)
	}
	if e.man.WALFlushedUpto >= 0 && e.man.WALFlushedUpto < e.w.CurrentSegment() {
		if err := e.w.Truncate(e.man.WALFlushedUpto); err != nil {
			return fmt.Errorf("tsm: %w", err)
		}
	}
	return nil
}
