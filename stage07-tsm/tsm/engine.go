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
)

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
	cache    *cache
	snap     *cache    // being flushed, nil otherwise
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
	e := &Engine{dir: dir, opts: opts, cache: newCache(), man: m, gens: map[*Reader]int{}, types: map[string]Type{},
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

// Dir is the engine's directory.
func (e *Engine) Dir() string { return e.dir }
