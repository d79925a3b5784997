package tsm

import (
	"fmt"

	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// WritePoints writes parsed line-protocol points (a point without a
// timestamp gets the engine's clock).
func (e *Engine) WritePoints(pts []lineprotocol.Point) error {
	b := NewBatch()
	now := e.opts.Now().UnixNano()
	for i := range pts {
		if err := b.AddPoint(&pts[i], now); err != nil {
			return err
		}
	}
	return e.WriteBatch(b)
}

// WriteBatch logs b to the WAL and, once the WAL has made it durable (per
// the sync policy), applies it to the cache. If the cache then exceeds
// CacheMaxSize a background flush starts. If the cache and the snapshot
// being flushed would pass CacheHardLimit, the write first waits for a
// flush to make room (back-pressure), or fails with ErrCacheFull
// (RejectWhenFull).
func (e *Engine) WriteBatch(b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if e.closed.Load() {
		return ErrClosed
	}
	if err := e.checkTypes(b); err != nil {
		return err
	}
	n := batchCost(b)
	if err := e.admit(n); err != nil {
		return err
	}
	err := e.logAndApply(b)
	e.mu.Lock()
	e.reserved -= n
	e.cond.Broadcast()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.lastWrite.Store(e.opts.Now().UnixNano())
	e.maybeFlush()
	return nil
}

func (e *Engine) logAndApply(b *Batch) error {
	rec := appendWriteRecord(nil, b)
	e.writeMu.RLock()
	defer e.writeMu.RUnlock()
	if err := e.w.Log(rec); err != nil {
		return fmt.Errorf("tsm: %w", err)
	}
	e.mu.RLock()
	c := e.cache
	e.mu.RUnlock()
	c.Write(b)
	return nil
}

// batchCost is the most b can add to the cache's Size: every key counted as
// new (cache.Write charges a known key only its values).
func batchCost(b *Batch) int64 {
	var n int64
	for i, k := range b.keys {
		n += int64(len(k)) + entryOverhead + int64(b.vals[i].size())
	}
	return n
}

func (e *Engine) cacheSize() int64 {
	e.mu.RLock()
	c := e.cache
	e.mu.RUnlock()
	return c.Size()
}

// admit reserves n bytes of the hard limit for a write: the cache, the
// snapshot and the writes admitted but not yet applied must stay within
// CacheHardLimit, so the bound holds however many writers run at once. It
// waits (cond: woken when a write releases its reservation, a flush swaps
// the cache or installs its file, or a flush fails) or, with
// RejectWhenFull, fails with ErrCacheFull.
func (e *Engine) admit(n int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	kicked := false
	for {
		if e.bgErr != nil {
			return e.bgErr
		}
		if e.closed.Load() {
			return ErrClosed
		}
		used := e.cache.Size() + e.reserved
		if e.snap != nil {
			used += e.snap.Size()
		}
		if used+n <= e.opts.CacheHardLimit || used == 0 {
			e.reserved += n
			return nil
		}
		if e.opts.RejectWhenFull {
			return fmt.Errorf("%w: %d bytes in the cache and snapshot, the write needs %d, limit %d",
				ErrCacheFull, used, n, e.opts.CacheHardLimit)
		}
		// Room comes from a flush: make sure one is coming (forced: the
		// cache may be under CacheMaxSize when a big batch waits), once per
		// wake-up. A snapshot being written, a write in flight and a flusher
		// that ends all Broadcast when they are done.
		if !kicked && e.snap == nil && e.cache.Size() > 0 {
			kicked = true
			e.mu.Unlock()
			e.startFlush(true)
			e.mu.Lock()
			continue
		}
		kicked = false
		e.cond.Wait()
	}
}
