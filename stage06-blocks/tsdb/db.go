package tsdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
)

// Directory layout of a DB:
//
//	dir/wal/            the WAL (stage04): segments 00000000… and checkpoint.NNNNNNNN
//	dir/chunks_head/    head-chunks files 000001… (package chunks)
//	dir/<ULID>/         one directory per block (package block)
const (
	WALDirname        = "wal"
	HeadChunksDirname = "chunks_head"
)

// DB is an open TSDB. All methods are safe for concurrent use.
type DB struct {
	dir  string
	opts Options
	head *Head
	wal  *wal.WAL

	mu     sync.RWMutex // guards blocks
	blocks []*block.Block

	readers   *readerGens
	deleting  sync.WaitGroup // retired blocks waiting for their readers
	compactMu sync.Mutex
	compactc  chan struct{}
	stopc     chan struct{}
	donec     chan struct{}
	closed    atomic.Bool
	bgErr     atomic.Pointer[error]

	recovery Recovery
	unlock   func() error // releases the data directory's lock (lock.go)
	// headOrder is the head series' label order an earlier query found
	// (headorder.go).
	headOrder atomic.Pointer[headOrder]
}

// Recovery reports what Open found and did.
type Recovery struct {
	Blocks int
	// Damaged are the blocks moved into dir/corrupted, at this Open (they
	// could not be read) or before it; none of them is served.
	Damaged       []BlockDamage
	RemovedBlocks []ulid.ULID // parents of a compacted block a crash left behind
	WALTruncated  *wal.Truncation
	// Repaired is what Repair did before the DB was opened (Options.Repair),
	// nil if it was not asked to.
	Repaired       *Damage
	WALRecords     int
	SeriesLoaded   int
	SamplesLoaded  int
	SamplesSkipped int   // older than the newest block, or already in a head chunk
	UnknownRefs    int   // samples of series the WAL never introduced
	HeadChunks     int   // chunks re-mapped from chunks_head
	HeadChunksErr  error // damaged head-chunks files (discarded; the WAL had their samples)
	Duration       time.Duration
}

// Open opens (creating if needed) the DB in dir: it loads the blocks,
// replays the WAL from its last checkpoint, re-maps the head chunks and
// starts background compaction.
func Open(dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tsdb: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	db, err := open(dir, opts)
	if err != nil {
		unlock()
		return nil, err
	}
	db.unlock = unlock
	return db, nil
}

func open(dir string, opts Options) (*DB, error) {
	start := time.Now()
	opts = opts.withDefaults()
	db := &DB{dir: dir, opts: opts, readers: newReaderGens(), compactc: make(chan struct{}, 1), stopc: make(chan struct{}), donec: make(chan struct{})}
	if opts.Repair {
		d, err := checkDir(dir, opts, true) // Repair, under Open's lock
		if err != nil {
			return nil, err
		}
		db.recovery.Repaired = &d
	}
	var refused []BlockDamage
	if err := db.loadBlocks(&refused); err != nil {
		db.closeBlocks()
		return nil, err
	}
	if len(refused) > 0 {
		db.closeBlocks()
		return nil, db.refuse(refused)
	}
	// The replay runs before the WAL is opened for appending: it reads
	// every record, so it finds damage anywhere in the log, and a refusal
	// then leaves the directory exactly as it was (wal.Open would already
	// have started a segment).
	if err := os.MkdirAll(filepath.Join(dir, WALDirname), 0o755); err != nil {
		db.closeBlocks()
		return nil, fmt.Errorf("tsdb: %w", err)
	}
	if err := db.recoverHead(); err != nil {
		db.closeHead()
		db.closeBlocks()
		if errors.Is(err, wal.ErrCorrupt) {
			return nil, db.refuse(nil)
		}
		return nil, err
	}
	w, err := wal.Open(filepath.Join(dir, WALDirname), walOptions(opts))
	if err != nil {
		db.closeHead()
		db.closeBlocks()
		if errors.Is(err, wal.ErrCorrupt) {
			// What the replay cannot see: a lost checkpoint, a newest
			// segment shorter than the last clean shutdown left it.
			return nil, db.refuse(nil)
		}
		return nil, fmt.Errorf("tsdb: %w", err)
	}
	if tr, ok := w.TruncatedTail(); ok {
		db.recovery.WALTruncated = &tr
	}
	db.wal, db.head.wal = w, w
	if opts.ChunkWriteQueue > 0 && db.head.hc != nil {
		// After the replay, which writes its chunks itself.
		db.head.cq = newChunkQueue(db.head, opts.ChunkWriteQueue, db.newPacer)
	}
	db.recovery.Blocks = len(db.blocks)
	db.recovery.Duration = time.Since(start)
	if opts.NoBackgroundCompaction {
		close(db.donec)
	} else {
		go db.run()
	}
	return db, nil
}

// loadBlocks opens every block directory and removes the leftovers of
// interrupted writes and compactions. A block that cannot be read is moved
// into dir/corrupted (Recovery().Damaged); one whose meta.json disagrees
// with it goes to *refused, for Open to refuse.
func (db *DB) loadBlocks(refused *[]BlockDamage) error {
	ents, err := os.ReadDir(db.dir)
	if err != nil {
		return fmt.Errorf("tsdb: %w", err)
	}
	var blocks []*block.Block
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, block.TmpSuffix) {
			// A block writer or a deletion interrupted by a crash.
			if _, err := ulid.ParseStrict(strings.TrimSuffix(name, block.TmpSuffix)); err == nil {
				os.RemoveAll(filepath.Join(db.dir, name))
			}
			continue
		}
		if _, err := ulid.ParseStrict(name); err != nil {
			continue
		}
		b, err := block.Open(filepath.Join(db.dir, name))
		switch {
		case err == nil:
			blocks = append(blocks, b)
		case errors.Is(err, block.ErrMetaMismatch):
			*refused = append(*refused, newBlockDamage(filepath.Join(db.dir, name), err))
		case errors.Is(err, block.ErrCorrupt):
			d, err := quarantine(db.dir, filepath.Join(db.dir, name), err)
			if err != nil {
				return err
			}
			db.recovery.Damaged = append(db.recovery.Damaged, d)
		default:
			for _, b := range blocks {
				b.Close()
			}
			return fmt.Errorf("tsdb: %w", err)
		}
	}
	old, err := listCorrupted(db.dir)
	if err != nil {
		return err
	}
	db.recovery.Damaged = old // with those just moved: quarantine records why
	// A compaction writes its block before deleting the parents: a crash in
	// between leaves both, and the parents are garbage.
	parents := map[ulid.ULID]bool{}
	for _, b := range blocks {
		for _, p := range b.Meta().Compaction.Parents {
			parents[p.ULID] = true
		}
	}
	for _, b := range blocks {
		if parents[b.Meta().ULID] {
			b.Close()
			db.recovery.RemovedBlocks = append(db.recovery.RemovedBlocks, b.Meta().ULID)
			os.RemoveAll(b.Dir())
			continue
		}
		db.blocks = append(db.blocks, b)
	}
	sortBlocks(db.blocks)
	return nil
}

// refuse builds Open's refusal: the blocks whose meta disagrees with them,
// the blocks moved aside, and everything wrong with the WAL.
func (db *DB) refuse(blocks []BlockDamage) error {
	d := Damage{Blocks: append(append([]BlockDamage(nil), db.recovery.Damaged...), blocks...), Refused: true}
	rep, err := wal.Check(filepath.Join(db.dir, WALDirname), walOptions(db.opts))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tsdb: %w", err)
	}
	d.WAL = rep
	return &DamageError{Dir: db.dir, Damage: d}
}

func sortBlocks(bs []*block.Block) {
	sort.Slice(bs, func(i, j int) bool {
		mi, mj := bs[i].Meta(), bs[j].Meta()
		if mi.MinTime != mj.MinTime {
			return mi.MinTime < mj.MinTime
		}
		return mi.ULID.Compare(mj.ULID) < 0
	})
}

// closeHead closes the WAL and the head chunks after a failed replay.
func (db *DB) closeHead() {
	if db.wal != nil {
		db.wal.Close()
	}
	if db.head != nil && db.head.hc != nil {
		db.head.hc.Close()
	}
	db.head = nil
}

func (db *DB) closeBlocks() {
	for _, b := range db.blocks {
		b.Close()
	}
}

// Dir is the DB's directory.
func (db *DB) Dir() string { return db.dir }

// Head returns the head (for its statistics).
func (db *DB) Head() *Head { return db.head }

// Recovery reports what Open found.
func (db *DB) Recovery() Recovery { return db.recovery }

// Blocks returns the metas of the current blocks, oldest first.
func (db *DB) Blocks() []BlockInfo {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]BlockInfo, len(db.blocks))
	for i, b := range db.blocks {
		out[i] = BlockInfo{Meta: b.Meta(), Dir: b.Dir(), Size: b.Size(), IndexSize: b.IndexSize(), Tombstones: b.Tombstones().Count()}
	}
	return out
}

// BlockInfo describes one block.
type BlockInfo struct {
	block.Meta
	Dir        string
	Size       int64
	IndexSize  int64
	Tombstones int
}

// WALSize is the size of the WAL directory in bytes.
func (db *DB) WALSize() int64 {
	n, _ := measure.DirSize(filepath.Join(db.dir, WALDirname))
	return n
}

// Delete removes the samples in [mint, maxt] of every series matching ms:
// in the head a tombstone record is logged to the WAL and kept with the
// series; in blocks the tombstones file is rewritten. Queries stop
// returning the samples at once; compaction removes them from disk.
func (db *DB) Delete(mint, maxt int64, ms ...*index.Matcher) error {
	if db.closed.Load() {
		return ErrClosed
	}
	if len(ms) == 0 {
		return fmt.Errorf("tsdb: delete needs at least one matcher")
	}
	db.mu.RLock()
	var blocks []*block.Block
	for _, b := range db.blocks {
		if b.Meta().Overlaps(mint, maxt) && b.Acquire() {
			blocks = append(blocks, b)
		}
	}
	db.mu.RUnlock()
	defer func() {
		for _, b := range blocks {
			b.Release()
		}
	}()
	for _, b := range blocks {
		ids := b.Index().Select(ms...).ToArray()
		if len(ids) == 0 {
			continue
		}
		if err := b.Delete(ids, mint, maxt); err != nil {
			return err
		}
	}
	h := db.head
	var stones []wal.Tombstone
	var targets []*memSeries
	for _, id := range h.ix.Select(ms...).ToArray() {
		if s := h.byID.get(uint64(id)); s != nil {
			stones = append(stones, wal.Tombstone{Ref: s.ref, Mint: mint, Maxt: maxt})
			targets = append(targets, s)
		}
	}
	if len(stones) == 0 {
		return nil
	}
	if err := db.wal.Log(wal.AppendTombstones(nil, stones)); err != nil {
		return fmt.Errorf("tsdb: delete: %w", err)
	}
	for _, s := range targets {
		s.mu.Lock()
		s.addStone(block.Interval{Mint: mint, Maxt: maxt})
		s.mu.Unlock()
	}
	return nil
}

// Close stops background compaction and closes the WAL, the head chunks
// and the blocks. Open queriers must be closed first.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return ErrClosed
	}
	close(db.stopc) // ends the background loop, and a paced rest (the chunk write queue's too)
	<-db.donec
	db.deleting.Wait()
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	err := db.wal.Close()
	db.readers.drain()
	if db.head.cq != nil {
		db.head.cq.close()
	}
	if db.head.hc != nil {
		if e := db.head.hc.Close(); err == nil {
			err = e
		}
	}
	db.mu.Lock()
	for _, b := range db.blocks {
		if e := b.Close(); err == nil {
			err = e
		}
	}
	db.blocks = nil
	db.mu.Unlock()
	if e := db.unlock(); err == nil {
		err = e
	}
	return err
}

// removeHeadFiles unmaps and deletes head-chunks files no reader needs.
func (db *DB) removeHeadFiles(files []int) {
	if len(files) > 0 && db.head.hc != nil {
		db.head.hc.RemoveFiles(files)
	}
}

// BackgroundError returns the last error of background compaction.
func (db *DB) BackgroundError() error {
	if e := db.bgErr.Load(); e != nil {
		return *e
	}
	return nil
}

// run is the background compaction loop: it wakes when an appender sees the
// head is due for a cut, and once a minute for retention.
func (db *DB) run() {
	defer close(db.donec)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-db.stopc:
			return
		case <-db.compactc:
		case <-tick.C:
		}
		if _, err := db.compact(context.Background(), false, true); err != nil && !errors.Is(err, ErrClosed) {
			db.bgErr.Store(&err)
		}
	}
}

// maybeCompact wakes the background loop when the head spans 1.5 block
// ranges. Cheap: two atomic loads per commit.
func (db *DB) maybeCompact() {
	if db.opts.NoBackgroundCompaction {
		return
	}
	h := db.head
	if mint, maxt := h.minT.Load(), h.maxT.Load(); mint <= maxt && maxt-mint >= db.opts.cutSpan() {
		select {
		case db.compactc <- struct{}{}:
		default:
		}
	}
}
