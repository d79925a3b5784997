package tsm

import (
	"fmt"
	"slices"
)

// Delete removes the values of keys with min ≤ t ≤ max: logged to the WAL,
// removed from the cache, and recorded as tombstones against every TSM file
// holding one of the keys (compaction applies them). It waits for a running
// flush or compaction, so that their output gets the tombstones too.
func (e *Engine) Delete(keys []string, min, max int64) error {
	if e.closed.Load() {
		return ErrClosed
	}
	if min > max {
		return fmt.Errorf("tsm: delete range [%d, %d] is empty", min, max)
	}
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	e.compactMu.Lock()
	defer e.compactMu.Unlock()
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if err := e.w.Log(appendDeleteRecord(nil, keys, min, max)); err != nil {
		return fmt.Errorf("tsm: %w", err)
	}
	return e.applyDelete(keys, min, max)
}

func (e *Engine) applyDelete(keys []string, min, max int64) error {
	e.mu.RLock()
	c, snap, files := e.cache, e.snap, slices.Clone(e.files)
	e.mu.RUnlock()
	c.Delete(keys, min, max)
	if snap != nil {
		snap.Delete(keys, min, max)
	}
	for _, f := range files {
		if _, err := f.addTombstones(keys, TimeRange{min, max}); err != nil {
			return err
		}
	}
	return nil
}
