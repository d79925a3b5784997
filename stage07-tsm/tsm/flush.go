package tsm

import (
	"fmt"
	"path/filepath"
	"time"
)

// FlushStats describe one cache flush.
type FlushStats struct {
	File     FileStats
	Series   int // distinct series keys (measurement + tags)
	Duration time.Duration
	// WALSegment is the last WAL segment the flushed file covers; the WAL
	// is truncated up to it afterwards.
	WALSegment int
}

// maybeFlush starts a background flush if the cache is over its limit and
// none is running. The flusher keeps going while the cache is still over the
// limit when it finishes (writes went on meanwhile), and re-checks after
// clearing its flag, so a write that saw the flag set is never left with an
// oversized cache and no flush coming.
func (e *Engine) maybeFlush() { e.startFlush(false) }

// startFlush is maybeFlush; force flushes once even below CacheMaxSize (a
// write waiting at the hard limit needs the cache emptied).
func (e *Engine) startFlush(force bool) {
	for (force || e.cacheSize() > e.opts.CacheMaxSize) && !e.closed.Load() && e.flushing.CompareAndSwap(false, true) {
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			defer func() {
				e.flushing.Store(false)
				// A writer that found the flag set waits for this.
				e.mu.Lock()
				e.cond.Broadcast()
				e.mu.Unlock()
				e.maybeFlush()
			}()
			for first := force; (first || e.cacheSize() > e.opts.CacheMaxSize) && !e.closed.Load(); first = false {
				if _, err := e.Flush(); err != nil {
					e.mu.Lock()
					e.bgErr = err
					e.cond.Broadcast()
					e.mu.Unlock()
					return
				}
				e.maybeCompact()
			}
		}()
		return
	}
}

// Flush snapshots the cache and writes it to a new level-1 TSM file, then
// truncates the WAL it covers. Writes continue into a fresh cache while the
// file is written. It returns the zero FlushStats when the cache is empty.
//
// Crash safety, step by step: (1) the WAL segment is closed with the
// snapshot, so the snapshot is exactly segments ≤ N; (2) the file is
// written as .tmp, fsynced and renamed; (3) the manifest naming the file and
// wal_flushed_upto = N is committed (atomic replace) — the commit point;
// (4) WAL segments ≤ N are deleted. A crash before (3) leaves an unlisted
// file that Open deletes, and the WAL still has everything; after (3) the
// file is live and Open skips (and deletes) segments ≤ N.
func (e *Engine) Flush() (FlushStats, error) {
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	start := time.Now()

	e.mu.RLock()
	snap := e.snap // left over from a failed flush: write it first
	e.mu.RUnlock()
	var seg int
	if snap == nil {
		e.writeMu.Lock()
		if e.cache.Len() == 0 {
			e.writeMu.Unlock()
			return FlushStats{}, nil
		}
		var err error
		seg, err = e.w.NextSegment()
		if err != nil {
			e.writeMu.Unlock()
			return FlushStats{}, fmt.Errorf("tsm: flush: %w", err)
		}
		e.mu.Lock()
		snap = e.cache
		e.snap, e.cache = snap, newCache()
		e.snapSeg = seg
		e.cond.Broadcast()
		e.mu.Unlock()
		e.writeMu.Unlock()
	} else {
		seg = e.snapSeg
	}

	e.mu.Lock()
	gen := e.man.NextGen
	e.man.NextGen++
	e.mu.Unlock()
	path := filepath.Join(e.dir, fileName(gen, 1))
	e.at("flush:snapshot")
	st, series, err := writeSnapshot(path, snap)
	if err != nil {
		return FlushStats{}, err
	}
	e.at("flush:written")
	if err := e.install(nil, path, gen, seg); err != nil {
		return FlushStats{}, err
	}
	e.mu.Lock()
	e.snap = nil
	e.cond.Broadcast()
	e.mu.Unlock()
	if err := e.w.Truncate(seg); err != nil {
		return FlushStats{}, fmt.Errorf("tsm: flush: %w", err)
	}
	e.flushes.Add(1)
	e.flushBytes.Add(st.Size)
	fs := FlushStats{File: st, Series: series, Duration: time.Since(start), WALSegment: seg}
	if e.opts.OnFlush != nil {
		e.opts.OnFlush(fs)
	}
	return fs, nil
}

// writeSnapshot writes every key of c, in key order, to a new file.
func writeSnapshot(path string, c *cache) (FileStats, int, error) {
	w, err := newWriter(path, 1)
	if err != nil {
		return FileStats{}, 0, err
	}
	series := 0
	prev := ""
	for _, k := range c.sortedKeys() {
		v := c.snapshotValues(k)
		if v == nil || v.Len() == 0 {
			continue
		}
		if s, _, _ := SplitKey(k); s != prev {
			series++
			prev = s
		}
		if err := w.writeKey([]byte(k), v); err != nil {
			w.abort()
			return FileStats{}, 0, err
		}
	}
	st, err := w.Close()
	return st, series, err
}
