package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultSegmentSize  = 16 << 20 // 16 MiB, as in the guide
	DefaultSyncInterval = 100 * time.Millisecond
)

// Options configure a WAL. The zero value is valid: 16 MiB segments, SyncBatch.
type Options struct {
	// SegmentSize is the size at which a segment is rotated: a frame that
	// would take the current segment past it goes to a new segment.
	// A single record larger than SegmentSize gets a segment of its own.
	// Defaults to DefaultSegmentSize.
	SegmentSize int64
	// Sync is the durability policy. Defaults to SyncBatch.
	Sync SyncPolicy
	// Compression is how records are stored. Defaults to
	// CompressionSnappy. It only affects what is written: a log replays
	// whatever mix of forms its segments hold.
	Compression Compression
	// SyncInterval is SyncInterval's period. Defaults to DefaultSyncInterval.
	SyncInterval time.Duration
	// CheckpointRequired says that segments are only ever removed by
	// Checkpoint (as a TSDB head does), never by Truncate alone: a log
	// whose first segment is not 00000000 must then start with the
	// checkpoint of the segments before it, and one that does not has lost
	// it. Open, Check and Repair report that instead of replaying a log
	// whose older series and samples are gone.
	CheckpointRequired bool

	tick <-chan time.Time // tests: drives SyncInterval's fsyncs instead of a ticker
}

// WAL is an open write-ahead log. Its methods are safe for concurrent use;
// records logged by one goroutine appear in the log in the order it logged
// them, and records of concurrent Log calls do not interleave within a call.
type WAL struct {
	dir  string
	opts Options

	mu       sync.Mutex // guards the fields below, and orders writes
	seg      *os.File   // current segment, nil once closed
	segIndex int
	segSize  int64
	written  uint64 // logical bytes written since Open, all segments
	closed   bool
	err      error // sticky: after a failed fsync, or a failed write that could not be cut off, nothing more is logged
	torn     *Truncation
	// sealed are segments rotated out whose fsync and close the next
	// group-commit leader does (syncCurrent, oldest first, before the
	// current segment), and dirDirty says the directory has a segment
	// created since its last fsync. Rotation does neither under mu, so a
	// rotation costs appenders a create(), not two fsyncs.
	sealed   []*os.File
	dirDirty bool

	syncMu   sync.Mutex // guards the group-commit state below
	syncCond *sync.Cond
	syncing  bool
	synced   uint64 // logical position known durable
	syncErr  error

	stop, done chan struct{} // SyncInterval's goroutine
	stopOnce   sync.Once

	fsyncs, records, rotations atomic.Int64
	bufs                       sync.Pool

	syncHook  func() error              // tests: runs before every fsync
	writeHook func([]byte) (int, error) // tests: writes to the segment instead of Write
}

// Truncation reports a torn tail that Open or Repair cut off.
type Truncation struct {
	Segment int
	Offset  int64 // new size of the segment
	Bytes   int64 // bytes removed
	Reason  string
}

// Open opens the WAL in dir (creating dir if needed) for appending.
//
// It first finishes whatever a crash interrupted: removes half-written
// checkpoints (*.tmp) and segments an existing checkpoint already covers,
// and truncates a torn record at the tail of the last segment (reported by
// TruncatedTail). Damage before the tail makes Open fail with a
// *CorruptionError: appending after it would bury it; call Repair first.
// So does a log that a clean Close left (ClosedMarkerName) whose last
// segment is no longer as Close left it, and, with CheckpointRequired, a
// log that has lost its checkpoint. Open reads only the last segment;
// damage further back is found by the replay (Reader) or by Check.
//
// Appends go to a new segment after the last one (or to the last one if
// it is empty), so a segment written before a crash is never reopened.
// The caller replays the log (NewReader) before or after Open, before
// logging anything new.
func Open(dir string, opts Options) (*WAL, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Sync < SyncBatch || opts.Sync > SyncNone {
		return nil, fmt.Errorf("wal: open %s: unknown sync policy %d", dir, opts.Sync)
	}
	if opts.Compression < CompressionSnappy || opts.Compression > CompressionNone {
		return nil, fmt.Errorf("wal: open %s: unknown compression %d", dir, opts.Compression)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: open: %w", err)
	}
	w := &WAL{dir: dir, opts: opts}
	w.syncCond = sync.NewCond(&w.syncMu)
	if err := w.recover(); err != nil {
		return nil, err
	}
	if opts.Sync == SyncInterval {
		if opts.tick != nil {
			w.startSyncLoop(opts.tick, func() {})
		} else {
			t := time.NewTicker(opts.SyncInterval)
			w.startSyncLoop(t.C, t.Stop)
		}
	}
	return w, nil
}

// startSyncLoop runs SyncInterval's goroutine on tick; release runs when it stops.
func (w *WAL) startSyncLoop(tick <-chan time.Time, release func()) {
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go w.syncLoop(tick, w.stop, done)
	go func() { <-done; release(); close(w.done) }()
}

// recover prepares the directory for appending (see Open).
func (w *WAL) recover() error {
	c, err := listDir(w.dir)
	if err != nil {
		return err
	}
	for _, name := range c.tmp {
		if err := os.RemoveAll(filepath.Join(w.dir, name)); err != nil {
			return fmt.Errorf("wal: remove %s: %w", name, err)
		}
	}
	next := 0
	if cp, ok := c.lastCheckpoint(); ok {
		if _, err := removeSegments(w.dir, c.segments, cp); err != nil {
			return err
		}
		if err := removeCheckpointsBefore(w.dir, c.checkpoints, cp); err != nil {
			return err
		}
		next = cp + 1
		if c, err = listDir(w.dir); err != nil {
			return err
		}
	}
	if err := c.checkCheckpoint(w.opts.CheckpointRequired); err != nil {
		return err
	}
	if err := (&c).checkClosed(w.dir); err != nil {
		return err
	}
	if n := len(c.segments); n > 0 {
		last := c.segments[n-1]
		tr, size, err := truncateTail(w.dir, last, c.closed == nil)
		if err != nil {
			return err
		}
		w.torn = tr
		if err := removeClosedMarker(w.dir); err != nil {
			return err
		}
		if size == 0 {
			f, err := os.OpenFile(filepath.Join(w.dir, SegmentName(last)), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return fmt.Errorf("wal: open segment %d: %w", last, err)
			}
			w.seg, w.segIndex = f, last
			return nil
		}
		next = last + 1
	} else if err := removeClosedMarker(w.dir); err != nil {
		return err
	}
	f, err := createSegment(w.dir, next)
	if err != nil {
		return err
	}
	if w.opts.Sync != SyncNone {
		if err := SyncDir(w.dir); err != nil {
			f.Close()
			return err
		}
	}
	w.seg, w.segIndex = f, next
	return nil
}

// truncateTail scans segment n as the last of the log; with tailRule a torn
// tail is cut off (and fsynced), other damage is returned. It returns the
// valid size.
func truncateTail(dir string, n int, tailRule bool) (*Truncation, int64, error) {
	lf := logFile{path: filepath.Join(dir, SegmentName(n)), index: n}
	sc, err := openScanner(lf, tailRule, nil)
	if err != nil {
		return nil, 0, err
	}
	for sc.next() {
	}
	if err := sc.close(); err != nil {
		return nil, 0, err
	}
	d := sc.damage
	if d == nil {
		return nil, sc.size, nil
	}
	if !d.tail {
		return nil, 0, &CorruptionError{Segment: n, Offset: d.offset, Reason: d.reason}
	}
	if err := truncateFile(lf.path, d.offset); err != nil {
		return nil, 0, fmt.Errorf("wal: segment %d offset %d: truncate torn tail: %w", n, d.offset, err)
	}
	return &Truncation{Segment: n, Offset: d.offset, Bytes: d.bytes, Reason: d.reason}, d.offset, nil
}

// truncateFile cuts a file to size and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// TruncatedTail reports the torn tail Open cut off, if any.
func (w *WAL) TruncatedTail() (Truncation, bool) {
	if w.torn == nil {
		return Truncation{}, false
	}
	return *w.torn, true
}

// Dir is the WAL's directory.
func (w *WAL) Dir() string { return w.dir }

// CurrentSegment is the number of the segment being appended to.
func (w *WAL) CurrentSegment() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.segIndex
}

// Log appends records (each: type byte ≠ 0, then payload) and returns once
// they are durable as the SyncPolicy promises. The records of one call are
// written with one write() where they fit in the current segment, and never
// interleave with another call's. Each record is atomic on replay; a crash
// during Log may keep a prefix of the call's records, but only a call that
// returned nil is promised.
func (w *WAL) Log(recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	size := 0
	for i, r := range recs {
		if err := checkRecord(r); err != nil {
			return fmt.Errorf("wal: record %d of %d (%d bytes): %w", i, len(recs), len(r), err)
		}
		size += frameHeaderSize + len(r)
	}
	// Frames (compression and CRCs included) are built outside the lock,
	// so concurrent appenders compress and checksum in parallel and hold
	// the lock only to write.
	fb, _ := w.bufs.Get().(*frameBuf)
	if fb == nil {
		fb = new(frameBuf)
	}
	defer w.bufs.Put(fb)
	buf := slices.Grow(fb.buf[:0], size+1) // one allocation for a first or larger batch, not a doubling chain
	ends := fb.ends[:0]
	for i, r := range recs {
		var err error
		if buf, err = appendRecordFrame(buf, r, w.opts.Compression); err != nil {
			fb.buf, fb.ends = buf, ends
			return fmt.Errorf("wal: record %d of %d (%d bytes): %w", i, len(recs), len(r), err)
		}
		ends = append(ends, len(buf))
	}
	fb.buf, fb.ends = buf, ends

	w.mu.Lock()
	seq, err := w.write(buf, ends)
	if err == nil && w.opts.Sync == SyncAlways {
		// Under the lock: each call pays its own fsync, the point of
		// SyncAlways (and what SyncBatch improves on).
		if err = w.fsync(w.seg); err != nil {
			err = fmt.Errorf("wal: segment %d: fsync: %w", w.segIndex, err)
			w.err = err
		}
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}
	w.records.Add(int64(len(recs)))
	if w.opts.Sync == SyncBatch {
		return w.waitDurable(seq)
	}
	return nil
}

// frameBuf is Log's reusable scratch: the frames of one call and where
// each ends.
type frameBuf struct {
	buf  []byte
	ends []int
}

// write appends the frames in buf (frame i ends at ends[i]) to the log,
// rotating between frames where the segment is full. Caller holds w.mu.
func (w *WAL) write(buf []byte, ends []int) (uint64, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	start := 0 // buf[start:end] is pending for the current segment
	end := 0
	for _, e := range ends {
		n := e - end
		if w.segSize+int64(end-start) > 0 && w.segSize+int64(end-start+n) > w.opts.SegmentSize {
			if err := w.writeOut(buf[start:end]); err != nil {
				return 0, err
			}
			if err := w.rotate(); err != nil {
				return 0, err
			}
			start = end
		}
		end += n
	}
	if err := w.writeOut(buf[start:end]); err != nil {
		return 0, err
	}
	return w.written, nil
}

// writeOut writes b to the current segment. Caller holds w.mu.
//
// A failed write (a full disk) may leave part of a frame at the end of the
// segment. It is cut off at once, so the log goes on where it was once
// there is room again, without a restart; only if that fails too is the
// error sticky, since logging after a partial frame would turn a torn tail
// into mid-log corruption.
func (w *WAL) writeOut(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var n int
	var err error
	if w.writeHook != nil {
		n, err = w.writeHook(b)
	} else {
		n, err = w.seg.Write(b)
	}
	if err == nil {
		w.segSize += int64(n)
		w.written += uint64(n)
		return nil
	}
	err = fmt.Errorf("wal: segment %d offset %d: write: %w", w.segIndex, w.segSize, err)
	if n > 0 {
		if terr := w.seg.Truncate(w.segSize); terr != nil {
			w.segSize += int64(n)
			w.written += uint64(n)
			w.err = fmt.Errorf("%w; cutting the partial frame: %v", err, terr)
			return w.err
		}
	}
	return err
}

// rotate starts the next segment. Caller holds w.mu.
//
// Under SyncBatch and SyncInterval the old segment is only sealed here: its
// fsync and close, and the fsync of the directory entry of the new one, are
// left to the next group-commit leader (syncCurrent), which does them before
// it fsyncs the new segment. So no byte of the new segment is acknowledged
// before the old one is durable, and appenders do not wait, lock held, for
// fsyncs that a journal busy with other files (a compaction's block) can
// stretch to tenths of a second. A power cut can then leave a torn frame at
// the end of a segment that is not the last (bytes never acknowledged);
// Repair cuts it. SyncAlways keeps both fsyncs here, under the lock, as the
// policy says; SyncNone closes the old segment unsynced. If the next segment
// cannot be created (a full disk), the current one stays open and a later
// Log tries again.
func (w *WAL) rotate() error {
	if w.opts.Sync == SyncAlways {
		if err := w.fsync(w.seg); err != nil {
			w.err = fmt.Errorf("wal: segment %d: fsync on rotation: %w", w.segIndex, err)
			return w.err
		}
	}
	f, err := createSegment(w.dir, w.segIndex+1)
	if err != nil {
		return err
	}
	switch w.opts.Sync {
	case SyncBatch, SyncInterval:
		w.sealed = append(w.sealed, w.seg)
		w.dirDirty = true
	default:
		if w.opts.Sync == SyncAlways {
			if err := SyncDir(w.dir); err != nil {
				f.Close()
				w.err = err
				return err
			}
		}
		if err := w.seg.Close(); err != nil {
			f.Close()
			w.err = fmt.Errorf("wal: segment %d: close: %w", w.segIndex, err)
			return w.err
		}
	}
	w.seg, w.segIndex, w.segSize = f, w.segIndex+1, 0
	w.rotations.Add(1)
	return nil
}

// NextSegment closes the current segment and starts a new one, returning the
// number of the closed segment. A head calls it before a checkpoint so that
// everything up to that number can be checkpointed while appends go on.
func (w *WAL) NextSegment() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	old := w.segIndex
	return old, w.rotate()
}

// Truncate deletes the segments numbered ≤ upto, oldest first. The current
// segment cannot be deleted. Use it once their contents are persisted
// elsewhere (Checkpoint does this itself).
func (w *WAL) Truncate(upto int) error {
	w.mu.Lock()
	cur, closed := w.segIndex, w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if upto >= cur {
		return fmt.Errorf("wal: truncate up to %d: %w: segment %d is being written", upto, ErrBadSegment, cur)
	}
	c, err := listDir(w.dir)
	if err != nil {
		return err
	}
	_, err = removeSegments(w.dir, c.segments, upto)
	return err
}

// Stats are counters since Open.
type Stats struct {
	Records   int64 // records logged
	Bytes     uint64
	Fsyncs    int64 // fsync calls on segments (group commit: far fewer than Log calls)
	Rotations int64
	Segment   int // current segment
}

// Stats returns the counters.
func (w *WAL) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{Records: w.records.Load(), Bytes: w.written, Fsyncs: w.fsyncs.Load(), Rotations: w.rotations.Load(), Segment: w.segIndex}
}

// Close makes everything durable (unless SyncNone) and closes the segment.
// Log calls after Close return ErrClosed.
func (w *WAL) Close() error {
	if w.stop != nil { // set once by Open, never changed
		w.stopOnce.Do(func() { close(w.stop); <-w.done })
	}
	// Close leads the last group commit: it waits for a leader in flight
	// (which may hold sealed segments it is fsyncing) and keeps others out
	// until it has published what it synced.
	w.syncMu.Lock()
	for w.syncing {
		w.syncCond.Wait()
	}
	w.syncing = true
	w.syncMu.Unlock()

	w.mu.Lock()
	err := w.closeLocked()
	w.mu.Unlock()
	if errors.Is(err, ErrClosed) {
		w.syncMu.Lock()
		w.syncing = false
		w.syncCond.Broadcast()
		w.syncMu.Unlock()
		return err
	}
	// Release waiters: Close synced everything, or failed.
	w.syncMu.Lock()
	w.syncing = false
	if err == nil {
		w.synced = w.written
	} else if w.syncErr == nil {
		w.syncErr = err
	}
	w.syncCond.Broadcast()
	w.syncMu.Unlock()
	return err
}

// closeLocked is Close's work under w.mu, with no leader in flight.
func (w *WAL) closeLocked() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	var err error
	sync := w.opts.Sync != SyncNone && w.err == nil
	for _, f := range w.sealed {
		if sync && err == nil {
			if err = w.fsync(f); err != nil {
				err = fmt.Errorf("wal: sealed segment: fsync on close: %w", err)
			}
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: sealed segment: close: %w", cerr)
		}
	}
	w.sealed = nil
	if sync && err == nil && w.dirDirty {
		err = SyncDir(w.dir)
	}
	w.dirDirty = false
	if w.seg != nil {
		if sync && err == nil {
			if err = w.fsync(w.seg); err != nil {
				err = fmt.Errorf("wal: segment %d: fsync on close: %w", w.segIndex, err)
			}
		}
		var size int64
		if fi, serr := w.seg.Stat(); serr == nil {
			size = fi.Size()
		} else if err == nil {
			err = fmt.Errorf("wal: segment %d: %w", w.segIndex, serr)
		}
		if cerr := w.seg.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: segment %d: close: %w", w.segIndex, cerr)
		}
		w.seg = nil
		// Only a log that ends exactly where its last Log call did gets
		// the marker: after a failed write a torn frame may sit there.
		if err == nil && w.err == nil {
			err = writeClosedMarker(w.dir, w.segIndex, size, w.opts.Sync != SyncNone)
		}
	}
	if err == nil {
		err = w.err
	}
	return err
}

// fail makes err sticky. An fsync error is not retried: after a failed
// fsync Linux may already have dropped the dirty pages, so a retry that
// "succeeds" would lie about durability.
func (w *WAL) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *WAL) stickyErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
