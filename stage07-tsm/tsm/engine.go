package tsm

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// DefaultCacheMaxSize is the cache size at which a snapshot is flushed to a
// new TSM file, as in the guide.
const DefaultCacheMaxSize = 256 << 20

// DefaultColdDuration is how long without writes before CompactIfCold runs
// a full compaction (InfluxDB's compact-full-write-cold-duration).
const DefaultColdDuration = 4 * time.Hour

// DefaultColdCheckInterval is how often, with AutoCompact, the engine checks
// whether writes have gone cold.
const DefaultColdCheckInterval = time.Minute

// Options configure an Engine. The zero value is valid.
type Options struct {
	// CacheMaxSize: when the cache holds more than this many bytes it is
	// snapshotted and flushed to a TSM file in the background while writes
	// go on into a fresh cache. Defaults to DefaultCacheMaxSize.
	CacheMaxSize int64
	// CacheHardLimit bounds the memory of the cache and the snapshot being
	// flushed together (InfluxDB's cache-max-memory-size; CacheMaxSize is
	// its cache-snapshot-memory-size). A write that would pass it waits
	// until a flush makes room, or fails with ErrCacheFull if
	// RejectWhenFull is set. A single batch larger than the limit is let
	// in when the cache and snapshot are empty. Defaults to 2×CacheMaxSize.
	CacheHardLimit int64
	// RejectWhenFull makes a write that finds the cache at CacheHardLimit
	// fail at once with ErrCacheFull instead of waiting for room: for a
	// front end that would rather answer "try again later" than hold the
	// connection.
	RejectWhenFull bool
	// WAL configures the write-ahead log (segment size, sync policy).
	// Defaults to stage04's: 16 MiB segments, SyncBatch (group commit).
	WAL wal.Options
	// AutoCompact runs level compactions in the background (in a goroutine
	// of their own, so that flushes are never held up behind a merge) after
	// each flush, and checks every ColdCheckInterval whether writes have
	// gone cold (see ColdDuration). Defaults to false (call Compact,
	// CompactIfCold).
	AutoCompact bool
	// ColdDuration: CompactIfCold runs a full compaction once no write has
	// arrived for this long; with AutoCompact the background check also
	// flushes the cache first, so a cold engine ends as one file and an
	// empty WAL. Defaults to DefaultColdDuration.
	ColdDuration time.Duration
	// ColdCheckInterval is how often the background check (AutoCompact)
	// looks at the time since the last write. Defaults to
	// DefaultColdCheckInterval.
	ColdCheckInterval time.Duration
	// Now is the clock: timestamps for points without one, and the cold
	// check. Defaults to time.Now.
	Now func() time.Time
	// OnFlush and OnCompact, if set, are called after each flush and
	// compaction (from the goroutine that ran it).
	OnFlush   func(FlushStats)
	OnCompact func(CompactStats)

	// hook is called at named points of a flush or compaction (tests use
	// it to kill the process at exactly that point).
	hook func(point string)
	// ticker makes the ticks of the cold check (time.NewTicker unless a
	// test injects its own, together with Now).
	ticker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

func (e *Engine) at(point string) {
	if e.opts.hook != nil {
		e.opts.hook(point)
	}
}

// FlushStats describe one cache flush.
type FlushStats struct {
	File     FileStats
	Series   int // distinct series keys (measurement + tags)
	Duration time.Duration
	// WALSegment is the last WAL segment the flushed file covers; the WAL
	// is truncated up to it afterwards.
	WALSegment int
}

// Engine is a TSM storage engine on one directory:
//
//	dir/MANIFEST       live files (manifest.go)
//	dir/*.tsm          TSM files, dir/*.tombstone their deletes
//	dir/wal/           the stage04 write-ahead log
//
// All methods are safe for concurrent use.
type Engine struct {
	dir  string
	opts Options
	w    *wal.WAL

	// writeMu orders writes against snapshots and deletes: a write holds it
	// shared from its WAL append until its values are in the cache, so a
	// snapshot (exclusive) sees every write either wholly before it (in the
	// snapshot, in segments ≤ the one it closes) or wholly after.
	writeMu sync.RWMutex

	// mu guards the fields below it; cond (on mu) wakes writers waiting
	// for a flush to make room.
	mu       sync.RWMutex
	cond     *sync.Cond
	cache    *Cache
	snap     *Cache    // being flushed, nil otherwise
	reserved int64     // bytes admitted (admit) but not yet in the cache
	snapSeg  int       // the last WAL segment snap covers
	files    []*Reader // live files, oldest generation first
	gens     map[*Reader]int
	man      manifest
	bgErr    error // a background flush failed: writes report it

	// types is every key's type, from files and writes: the field type
	// check costs one map lookup per key per batch. series is the series
	// index (seriesindex.go), fed with each key types learns.
	typesMu sync.RWMutex
	types   map[string]Type
	series  *seriesIndex

	flushMu    sync.Mutex // one flush at a time
	compactMu  sync.Mutex // one compaction at a time
	flushing   atomic.Bool
	compacting atomic.Bool  // a background compaction goroutine runs
	lastWrite  atomic.Int64 // unix ns of the last write, for CompactIfCold
	bg         sync.WaitGroup
	closed     atomic.Bool
	done       chan struct{} // closed by Close: stops the cold check

	compactErr atomic.Pointer[error] // the last background compaction's error

	flushes, compactions     atomic.Int64
	flushBytes, compactBytes atomic.Int64
}

// Open opens (creating if needed) the engine in dir: it reads the manifest,
// deletes what a crash left half-done, maps the live TSM files, and replays
// the WAL segments after the last flush into the cache.
func Open(dir string, opts Options) (*Engine, error) {
	if opts.CacheMaxSize <= 0 {
		opts.CacheMaxSize = DefaultCacheMaxSize
	}
	if opts.CacheHardLimit <= 0 {
		opts.CacheHardLimit = 2 * opts.CacheMaxSize
	}
	opts.CacheHardLimit = max(opts.CacheHardLimit, opts.CacheMaxSize)
	if opts.ColdDuration <= 0 {
		opts.ColdDuration = DefaultColdDuration
	}
	if opts.ColdCheckInterval <= 0 {
		opts.ColdCheckInterval = DefaultColdCheckInterval
	}
	if opts.ticker == nil {
		opts.ticker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tsm: %w", err)
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if _, err := cleanDir(dir, m); err != nil {
		return nil, err
	}
	e := &Engine{dir: dir, opts: opts, cache: NewCache(), man: m, gens: map[*Reader]int{}, types: map[string]Type{},
		series: newSeriesIndex(), done: make(chan struct{})}
	e.cond = sync.NewCond(&e.mu)
	e.lastWrite.Store(opts.Now().UnixNano())
	for _, name := range m.Files {
		r, err := OpenReader(filepath.Join(dir, name))
		if err != nil {
			e.closeFiles()
			return nil, err
		}
		gen, _, _ := parseFileName(name)
		e.gens[r] = gen
		e.files = append(e.files, r)
		if err := e.learnTypes(r); err != nil {
			e.closeFiles()
			return nil, err
		}
	}
	slices.SortFunc(e.files, func(a, b *Reader) int { return e.gens[a] - e.gens[b] })
	e.w, err = wal.Open(filepath.Join(dir, "wal"), opts.WAL)
	if err != nil {
		e.closeFiles()
		return nil, fmt.Errorf("tsm: %w", err)
	}
	if err := e.replay(); err != nil {
		e.w.Close()
		e.closeFiles()
		return nil, err
	}
	if opts.AutoCompact {
		ticks, stop := opts.ticker(opts.ColdCheckInterval)
		e.bg.Add(1)
		go e.coldLoop(ticks, stop)
	}
	return e, nil
}

// learnTypes records the type of every key of r.
func (e *Engine) learnTypes(r *Reader) error {
	e.typesMu.Lock()
	defer e.typesMu.Unlock()
	for i := range r.KeyCount() {
		k, t, _, err := r.entryAt(i)
		if err != nil {
			return err
		}
		if _, ok := e.types[string(k)]; !ok {
			if err := e.series.add(string(k), t); err != nil {
				return fmt.Errorf("%s: %w", r.Path(), err)
			}
			e.types[string(k)] = t
		}
	}
	return nil
}

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
		case RecordWrite:
			if err := DecodeWriteRecord(rec, b); err != nil {
				return fmt.Errorf("tsm: replay: %w", err)
			}
			if err := e.checkTypes(b); err != nil {
				return fmt.Errorf("tsm: replay: %w", err)
			}
			e.cache.Write(b)
		case RecordDelete:
			keys, min, max, err := DecodeDeleteRecord(rec)
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

// checkTypes rejects a batch with a key whose type differs from the type
// the key already has, and records the types of new keys.
func (e *Engine) checkTypes(b *Batch) error {
	e.typesMu.RLock()
	fresh := false
	for i, k := range b.keys {
		t, ok := e.types[k]
		if !ok {
			fresh = true
			continue
		}
		if t != b.vals[i].Type {
			e.typesMu.RUnlock()
			return fmt.Errorf("%w: %s is %v, write has %v", ErrFieldType, k, t, b.vals[i].Type)
		}
	}
	e.typesMu.RUnlock()
	if !fresh {
		return nil
	}
	e.typesMu.Lock()
	defer e.typesMu.Unlock()
	for i, k := range b.keys { // again: another writer may have added a key meanwhile
		if t, ok := e.types[k]; ok && t != b.vals[i].Type {
			return fmt.Errorf("%w: %s is %v, write has %v", ErrFieldType, k, t, b.vals[i].Type)
		}
	}
	for i, k := range b.keys {
		if _, ok := e.types[k]; !ok {
			if err := e.series.add(k, b.vals[i].Type); err != nil {
				return err
			}
			e.types[k] = b.vals[i].Type
		}
	}
	return nil
}

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
	rec := AppendWriteRecord(nil, b)
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
// new (Cache.Write charges a known key only its values).
func batchCost(b *Batch) int64 {
	var n int64
	for i, k := range b.keys {
		n += int64(len(k)) + entryOverhead + int64(b.vals[i].size())
	}
	return n
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

// maybeCompact starts a goroutine running level compactions while one is
// due (AutoCompact), unless one is running. Like maybeFlush it re-checks
// after clearing its flag, so a flush that finished meanwhile is not left
// without its compaction.
func (e *Engine) maybeCompact() {
	for e.opts.AutoCompact && !e.closed.Load() && e.levelDue() && e.compacting.CompareAndSwap(false, true) {
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			defer func() {
				e.compacting.Store(false)
				e.maybeCompact()
			}()
			for !e.closed.Load() {
				st, err := e.Compact(false)
				e.noteCompact(err)
				if err != nil || len(st.Inputs) == 0 {
					return
				}
			}
		}()
		return
	}
}

func (e *Engine) levelDue() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return planLevel(e.files) != nil
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
		e.snap, e.cache = snap, NewCache()
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
	path := filepath.Join(e.dir, FileName(gen, 1))
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
func writeSnapshot(path string, c *Cache) (FileStats, int, error) {
	w, err := NewWriter(path, 1)
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
		if err := w.WriteKey([]byte(k), v); err != nil {
			w.Abort()
			return FileStats{}, 0, err
		}
	}
	st, err := w.Close()
	return st, series, err
}

// install makes a new file live in place of inputs (nil for a flush):
// commit the manifest, then swap the in-memory file set. walSeg ≥ 0 moves
// wal_flushed_upto. path == "" installs nothing (a compaction whose output
// was empty: everything deleted).
func (e *Engine) install(inputs []*Reader, path string, gen, walSeg int) error {
	var r *Reader
	if path != "" {
		var err error
		if r, err = OpenReader(path); err != nil {
			os.Remove(path)
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	files := make([]*Reader, 0, len(e.files)+1)
	for _, f := range e.files {
		if !slices.Contains(inputs, f) {
			files = append(files, f)
		}
	}
	if r != nil {
		e.gens[r] = gen
		files = append(files, r)
		slices.SortStableFunc(files, func(a, b *Reader) int { return e.gens[a] - e.gens[b] })
	}
	m := e.man
	m.Files = make([]string, len(files))
	for i, f := range files {
		m.Files[i] = filepath.Base(f.Path())
	}
	if walSeg >= 0 {
		m.WALFlushedUpto = walSeg
	}
	if err := writeManifest(e.dir, m); err != nil {
		if r != nil {
			r.Close()
			os.Remove(path)
		}
		return err
	}
	e.man, e.files = m, files
	e.at("install:committed")
	for _, in := range inputs {
		in.obsolete.Store(true)
		delete(e.gens, in)
		in.release() // the file set's reference
	}
	return nil
}

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
	if err := e.w.Log(AppendDeleteRecord(nil, keys, min, max)); err != nil {
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
		if _, err := f.AddTombstones(keys, TimeRange{min, max}); err != nil {
			return err
		}
	}
	return nil
}

// Close waits for background flushes and compactions, closes the WAL and
// unmaps the files. The cache is not flushed: the WAL holds it, and the next
// Open replays it.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	e.mu.Lock()
	e.cond.Broadcast() // writers waiting for room give up
	e.mu.Unlock()
	close(e.done)
	e.bg.Wait()
	e.flushMu.Lock()
	e.compactMu.Lock()
	defer e.flushMu.Unlock()
	defer e.compactMu.Unlock()
	err := e.w.Close()
	e.closeFiles()
	return err
}

func (e *Engine) closeFiles() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.files {
		f.Close()
	}
	e.files = nil
}

// Dir is the engine's directory.
func (e *Engine) Dir() string { return e.dir }

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
