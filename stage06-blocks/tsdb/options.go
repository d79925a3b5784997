// Package tsdb is the storage engine of stage 06: a Prometheus-style TSDB
// with an in-memory head (backed by the stage04 WAL and memory-mapped head
// chunks), immutable on-disk blocks (package block), a querier that merges
// them, deletes, leveled compaction and retention.
//
// The files, one concept each:
//
//	db.go         DB: Open (load blocks, replay the WAL), Close, Blocks, Delete
//	options.go    Options and their defaults
//	head.go       the head: series tables, stage05 index, WAL, head chunks, truncation
//	chunkqueue.go full chunks written to the head-chunks file in the background (ChunkWriteQueue)
//	series.go     memSeries: one series' chunks in the head, appending, cutting
//	ooo.go        out-of-order samples of a series
//	past.go       out-of-order samples older than the head: written to blocks of their own
//	isolation.go  append IDs and reader snapshots (a query never sees half a commit)
//	appender.go   Appender: Append / Commit / Rollback
//	recover.go    WAL replay and head-chunk re-mapping on Open
//	querier.go    Querier: Select, LabelNames, LabelValues over head + blocks
//	iterator.go   sample iterators: one chunk list, merged and deduplicated
//	readahead.go  decoding the next series on other cores while one is read
//	compact.go    head → block, block planning and merging, retention
//	coldchunks.go cold chunks: how compaction writes them, the readers' door to both forms
//	readers.go    reader generations: what may be truncated or unmapped when
package tsdb

import (
	"errors"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// Durations in milliseconds, the unit of every timestamp here.
const (
	Minute int64 = 60 * 1000
	Hour         = 60 * Minute
	// DefaultBlockRange is the head's block range: two hours, as in
	// Prometheus and the guide.
	DefaultBlockRange = 2 * Hour
	// DefaultColdLevel is the first compaction level written in the cold
	// form (Options.ColdLevel).
	DefaultColdLevel = 2
	// DefaultFutureGrace is how far ahead of the clock a sample may be:
	// ten minutes, Mimir's creation_grace_period (clocks drift; a day
	// ahead is a bug in the sender).
	DefaultFutureGrace = 10 * Minute
)

// The timestamps the DB stores: ±2^62 ms, about ±146 million years. Block
// ranges are aligned by integer division and end at a range's start plus
// its length; within these bounds no such sum overflows, and the head's
// markers for "no sample" (math.MinInt64, math.MaxInt64) are never a
// sample's timestamp.
const (
	MinTimestamp int64 = -1 << 62
	MaxTimestamp int64 = 1<<62 - 1
)

// Errors callers branch on.
var (
	// ErrOutOfOrder: the sample is older than the series' newest sample and
	// no out-of-order window (or not a wide enough one) is configured.
	ErrOutOfOrder = errors.New("tsdb: out of order sample")
	// ErrDuplicate: a sample with the series' newest timestamp but another
	// value. The same value again is accepted and ignored.
	ErrDuplicate = errors.New("tsdb: duplicate sample for timestamp")
	// ErrOutOfBounds: the sample is older than the head's lower limit
	// (its range is already in a block) and no out-of-order window (or
	// not a wide enough one) is configured.
	ErrOutOfBounds = errors.New("tsdb: sample out of bounds")
	// ErrTooOld: the sample is older than the retention keeps (the clock's
	// now minus RetentionTime), or before MinTimestamp. Storing it would
	// only have the next compaction delete it.
	ErrTooOld = errors.New("tsdb: sample older than the retention")
	// ErrTooNew: the sample is further ahead of the clock than FutureGrace,
	// or after MaxTimestamp.
	ErrTooNew = errors.New("tsdb: sample too far in the future")
	// ErrClosed is returned by a closed DB and a finished Appender.
	ErrClosed = errors.New("tsdb: closed")
	// ErrCorrupt wraps errors about damaged data found on Open.
	ErrCorrupt = errors.New("tsdb: corrupt")
)

// Options configure a DB. The zero value is valid; each field documents its
// default.
type Options struct {
	// BlockRange is the span of a block cut from the head, in ms. The head
	// is cut once it spans 1.5 × BlockRange. Defaults to DefaultBlockRange.
	BlockRange int64
	// CompactionRanges are the spans of the compaction levels, each a
	// multiple of the previous. Defaults to BlockRange × 1, 3, 9, 27
	// (2 h, 6 h, 18 h, 54 h).
	CompactionRanges []int64
	// OutOfOrderWindow accepts samples up to this much (ms) older than the
	// head's newest sample into separate out-of-order chunks, also those
	// older than the head's lower bound (a range already cut to a block):
	// compaction writes them to blocks of their own, which vertical
	// compaction then merges with the blocks they overlap. Defaults to 0:
	// such samples get ErrOutOfOrder (ErrOutOfBounds below the head's
	// lower bound).
	OutOfOrderWindow int64
	// WALSync is the WAL's fsync policy. Defaults to wal.SyncBatch (group
	// commit: Commit returns once its records are on disk).
	WALSync wal.SyncPolicy
	// WALSegmentSize defaults to wal.DefaultSegmentSize (16 MiB).
	WALSegmentSize int64
	// WALCompression is how WAL records are stored. Defaults to
	// wal.CompressionSnappy (about a third smaller, replay as fast);
	// a WAL written with any setting replays under any other.
	WALCompression wal.Compression
	// HeadChunkFileSize is the size of a head-chunks file. Defaults to
	// chunks.DefaultHeadFileSize (128 MiB, sparse).
	HeadChunkFileSize int
	// ChunkSegmentSize caps a block's chunk segment file. Defaults to 512 MiB.
	ChunkSegmentSize int64
	// ColdLevel is the compaction level from which blocks hold cold chunks
	// (chunks/cold.go: a series' samples as stage02 columns, zstd over
	// them, up to chunks.ColdChunkSamples per chunk) instead of Gorilla
	// chunks. Defaults to DefaultColdLevel (2: every block compaction
	// merged, 6 h and longer), so the head and the 2 h blocks cut from it,
	// which the recent queries read, stay Gorilla; negative: never (every
	// block Gorilla). Blocks of either form are read whatever the setting.
	ColdLevel int
	// CompactionWorkers is how many goroutines encode the series of a
	// block merge into cold chunks. Defaults to one per core the process
	// may run on (the fastest merge). A server that must answer writes
	// while it merges sets 1: the merge then takes one core at a time and
	// leaves the others to the writes (stage11's server and bench; stage11
	// README, "Where a request waits"). The block is the same byte for byte
	// whatever the count.
	CompactionWorkers int
	// HeadCutKeepsEncoding makes a head cut copy the head's chunks into
	// the 2 h block as they are, instead of re-encoding a chunk whose
	// values are all integers with stage03's Integer encoding when that is
	// smaller. That re-encoding is most of a cut's work (a decode and an
	// encode per sample), and with cold blocks from level 2 (ColdLevel,
	// the default) it lives only until the first merge, which encodes
	// every sample again anyway; the 2 h blocks are larger meanwhile. A
	// server that must answer writes while it cuts sets it (stage11).
	// Defaults to false.
	HeadCutKeepsEncoding bool
	// ChunkWriteQueue, if above 0, is how many series with full chunks may
	// wait for a background goroutine that writes those chunks to the
	// head-chunks file (chunkqueue.go), readable from memory meanwhile,
	// instead of Commit writing them. Series' chunks fill in step (every
	// series starts a chunk at a block boundary), so a Commit may otherwise
	// find thousands to write while other Commits wait. A full queue sends
	// Commit back to writing them itself, so it bounds the memory that
	// waiting chunks take. With BackgroundShare the goroutine is paced as
	// the background loop is, but starts no rest while half the queue or
	// more waits. Defaults to 0: Commit writes them (the simpler path this
	// stage's README describes).
	ChunkWriteQueue int
	// BackgroundShare, between 0 and 1, paces the background loop's head
	// cuts, WAL checkpoints and merges, and the chunk write queue: each of
	// their goroutines (a merge's cold-encoding workers each) rests between
	// slices of work so that it takes about this share of one core, and the
	// writes do not lose a core to it for more than a few milliseconds at a
	// time (background.go). It does not
	// rest while the head spans 3 block ranges or more (twice the span that
	// starts a cut) or the DB is closing. Compact, FlushHead and
	// CompactBlocks are not paced, but wait for a paced compaction in
	// progress. A server that must answer writes within milliseconds while
	// it compacts sets it (stage11: 0.5, with one merge worker). Defaults
	// to 0: no rest, the background work takes what the scheduler gives it.
	BackgroundShare float64
	// RetentionTime (ms) deletes the blocks whose data all lies more than
	// this before the clock's now, and refuses samples older than that
	// (ErrTooOld). It is anchored on the clock, never on the newest
	// sample, so no sample, however far in the future, makes older data
	// look expired. Defaults to 0: no time limit.
	RetentionTime int64
	// RetentionSize deletes the oldest blocks while all blocks together take
	// more bytes than this. Defaults to 0: no size limit.
	RetentionSize int64
	// FutureGrace (ms) is how far after the clock's now a sample may be;
	// later ones get ErrTooNew. Defaults to DefaultFutureGrace; negative:
	// no limit but MaxTimestamp.
	FutureGrace int64
	// Now is the clock that retention and FutureGrace read. Defaults to
	// time.Now.
	Now func() time.Time
	// OnBlockWritten is called for each block that compaction writes, as
	// it is written; OnRetention for each block that retention deletes.
	// They run on the goroutine compacting, which waits for them, and
	// must not call the DB's compaction methods. The DB never logs: this
	// is how a server learns what its storage did. Default to nil.
	OnBlockWritten func(CompactStats)
	OnRetention    func(RetentionDeletion)
	// NoBackgroundCompaction turns off the goroutine that cuts the head and
	// compacts blocks when they are due; Compact does it on demand.
	// Defaults to false.
	NoBackgroundCompaction bool
	// ReaderWait bounds how long a head truncation waits for queriers that
	// may still read the truncated range. Defaults to one minute.
	ReaderWait time.Duration
	// Repair lets Open repair the damage it would otherwise refuse (a
	// *DamageError): it runs Repair first, which cuts damaged bytes out of
	// the WAL, stands empty files in for missing ones and moves damaged
	// blocks into dir/corrupted, and reports what it did in
	// Recovery().Repaired. Defaults to false: Open refuses and changes
	// nothing.
	Repair bool
	// AdmitSeries, if set, is asked before an Append creates a series:
	// admission control (stage12's cardinality limiter). Defaults to nil:
	// every series is admitted.
	AdmitSeries AdmitFunc

	// yield replaces runtime.Gosched in the background loops (tests).
	yield func()
	// sleep replaces time.Sleep in the background loop's rests (tests).
	sleep func(time.Duration)
	// paceNow replaces time.Now in the pacers (tests).
	paceNow func() time.Time
}

// AdmitFunc decides whether the head may create the series lset (hash is
// lset.Hash()). It is called once for each series an Append is about to
// create, before the head changes; an error refuses the series, and Append
// returns it unwrapped (no series, no WAL record). Samples of existing
// series never reach it, nor do series replayed from the WAL: a series
// admitted once stays admitted across restarts. Calls are serialised with
// series creation and removal, so counts cannot change during a call.
type AdmitFunc func(lset model.Labels, hash uint64, counts SeriesCounts) error

// SeriesCounts are the head's exact series counts, which an AdmitFunc
// checks its limits against.
type SeriesCounts interface {
	// NumSeries is the number of series in the head.
	NumSeries() int
	// MetricSeries is the number of series in the head whose metric name
	// (label __name__) is metric.
	MetricSeries(metric string) int
}

func (o Options) withDefaults() Options {
	if o.BlockRange <= 0 {
		o.BlockRange = DefaultBlockRange
	}
	if len(o.CompactionRanges) == 0 {
		o.CompactionRanges = []int64{o.BlockRange, 3 * o.BlockRange, 9 * o.BlockRange, 27 * o.BlockRange}
	}
	if o.ColdLevel == 0 {
		o.ColdLevel = DefaultColdLevel
	}
	if o.ReaderWait <= 0 {
		o.ReaderWait = time.Minute
	}
	if o.FutureGrace == 0 {
		o.FutureGrace = DefaultFutureGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
