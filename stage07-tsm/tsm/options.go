package tsm

import (
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
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
