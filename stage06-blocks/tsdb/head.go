package tsdb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// Head is the in-memory part of the DB: the most recent samples, every one
// of them logged to the WAL before it is applied, so a crash loses none.
type Head struct {
	opts Options
	ix   *index.Index // label lookups (stage05), keyed by series ID
	// byRef resolves the refs appenders hold; byID the index's IDs. The two
	// differ after a restart: refs are what the WAL and the head-chunks
	// files name series by, so they survive restarts; index IDs are
	// reassigned by the replay.
	byRef, byID seriesTable
	createMu    sync.Mutex  // series creation and removal
	createQ     createQueue // creations waiting for createMu (createq.go)
	// slab holds memSeries not yet handed out (see newSeries); createMu
	// guards it, or replay, which runs alone.
	slab    []memSeries
	nextRef atomic.Uint64

	wal *wal.WAL
	hc  *chunks.HeadChunks
	// writeChunk is hc.Write (tests make it fail, as a full disk does).
	writeChunk func(series uint64, mint, maxt int64, data []byte) (chunks.Ref, error)
	iso        *isolation

	// minT and maxT bound the samples in the head: minT is the oldest
	// (a lower bound while commits run), maxT the newest ever appended.
	// Empty: minT > maxT. Every sample is within [MinTimestamp,
	// MaxTimestamp], so the empty markers are never a sample's.
	minT, maxT atomic.Int64
	// recentMin is the oldest sample committed while truncateMemory
	// recomputes minT (see there).
	recentMin atomic.Int64
	// minValid is the end of the newest block cut from the head: older
	// samples would land in a range already persisted, so they are refused.
	minValid atomic.Int64

	samples  atomic.Uint64 // samples appended since Open (in order and not)
	oooCount atomic.Uint64 // out-of-order samples accepted
	// pastCount counts the out-of-order samples accepted below minValid
	// (series' past stores); hasPast says some series may hold such
	// samples not yet written to a block (flushPast clears it first).
	pastCount atomic.Uint64
	hasPast   atomic.Bool
	// commits: with an out-of-order window, a Commit is in it from logging
	// its batch to applying it, so that persistPast, draining it after the
	// start of a new WAL segment, knows every sample logged before that
	// segment is applied (see DB.persistPast).
	commits *commitGate
	// afterLog runs (tests) in Commit between logging and applying.
	afterLog func()
	dropped  atomic.Uint64 // samples that lost a race at Commit (see Commit)
	// chunkWriteErrs counts full chunks the head-chunks file refused
	// (writeFull); chunkErr is the last such error.
	chunkWriteErrs atomic.Uint64
	chunkErr       atomic.Pointer[error]
	// cq writes full chunks in the background (Options.ChunkWriteQueue);
	// nil: Commit writes them.
	cq *chunkQueue
}

func newHead(opts Options, w *wal.WAL, hc *chunks.HeadChunks) *Head {
	h := &Head{opts: opts, ix: index.New(), wal: w, hc: hc, writeChunk: hc.Write, iso: newIsolation(), commits: newCommitGate()}
	h.nextRef.Store(1) // ref 0 means "no ref" to Append
	h.minT.Store(math.MaxInt64)
	h.maxT.Store(math.MinInt64)
	h.recentMin.Store(math.MaxInt64)
	h.minValid.Store(math.MinInt64)
	return h
}

// getOrCreate returns the series of lset, creating it if needed. The label
// set is hashed once, for the lookup and, if it misses, the creation.
func (h *Head) getOrCreate(lset model.Labels) (*memSeries, bool, error) {
	hash := lset.Hash()
	// nextRef grows with every series created (under createMu): if it has
	// not moved by the time createMu is held, the lookup's miss still holds.
	gen := h.nextRef.Load()
	if id, ok := h.ix.LookupHash(hash, lset); ok {
		if s := h.byID.get(uint64(id)); s != nil {
			return s, false, nil
		}
	}
	return h.create(lset, hash, gen)
}

// getOrCreateMany is getOrCreate for many label sets: out[i], created[i]
// and errs[i] are lsets[i]'s (the three as long as lsets). The lookups take
// no lock of the head; the series they miss are created together
// (createMany). An empty label set is ErrUnknownRef, as for Append.
func (h *Head) getOrCreateMany(lsets []model.Labels, out []*memSeries, created []bool, errs []error) {
	gen := h.nextRef.Load()
	var b *createBatch
	for i, lset := range lsets {
		out[i], created[i], errs[i] = nil, false, nil
		if lset.Len() == 0 {
			errs[i] = fmt.Errorf("%w: no ref and no labels", ErrUnknownRef)
			continue
		}
		hash := lset.Hash()
		if id, ok := h.ix.LookupHash(hash, lset); ok {
			if s := h.byID.get(uint64(id)); s != nil {
				out[i] = s
				continue
			}
		}
		if b == nil {
			b = &createBatch{lsets: lsets, hashes: make([]uint64, len(lsets)), miss: make([]int32, 0, len(lsets)-i), gen: gen, out: out, created: created, errs: errs}
		}
		b.hashes[i] = hash
		b.miss = append(b.miss, int32(i))
	}
	if b != nil {
		h.createMany(b)
	}
}

// createLocked finds or creates the series, with ref if not 0 (replay).
func (h *Head) createLocked(lset model.Labels, ref uint64) (*memSeries, bool, error) {
	return h.createHashed(lset, lset.Hash(), ref)
}

// createHashed is createLocked for a label set whose hash the caller has.
// The index's AddHash finds the series if it exists.
func (h *Head) createHashed(lset model.Labels, hash, ref uint64) (*memSeries, bool, error) {
	id, created, err := h.ix.AddHash(hash, lset)
	if err != nil {
		return nil, false, fmt.Errorf("tsdb: series %s: %w", lset, err)
	}
	if !created {
		if s := h.byID.get(uint64(id)); s != nil {
			return s, false, nil
		}
	}
	if ref == 0 {
		ref = h.nextRef.Load()
	}
	s := h.newSeries(ref, id)
	h.byRef.set(ref, s)
	h.byID.set(uint64(id), s)
	// nextRef moves last, once the series can be found: getOrCreate takes
	// an unchanged nextRef for "nothing was created since my lookup".
	if ref >= h.nextRef.Load() {
		h.nextRef.Store(ref + 1)
	}
	return s, true, nil
}

// seriesSlab is how many memSeries newSeries allocates at a time: as many
// as fill 4 KiB, an allocator size class, with the 8-byte header Go puts
// before objects over 512 bytes (22 of 184 bytes). One allocation instead of
// 22 is what the first scrape of many series and the garbage collector
// notice, and no size class rounds a series up (184 bytes would be
// allocated 192 one at a time). The price: a slab stays in memory while one of its series does.
const seriesSlab = (4096 - 8) / int(unsafe.Sizeof(memSeries{}))

// newSeries returns a new series from the slab. Called with createMu held
// (or by replay).
func (h *Head) newSeries(ref uint64, id uint32) *memSeries {
	if len(h.slab) == 0 {
		h.slab = make([]memSeries, seriesSlab)
	}
	s := &h.slab[0]
	h.slab = h.slab[1:]
	initMemSeries(s, ref, id)
	return s
}

// NumSeries is the number of series in the head.
func (h *Head) NumSeries() int { return h.byID.len() }

// MetricSeries is the number of series in the head named metric.
func (h *Head) MetricSeries(metric string) int { return h.ix.Count(model.MetricName, metric) }

// MinTime is the oldest sample's timestamp in the head, math.MaxInt64
// when the head is empty.
func (h *Head) MinTime() int64 { return h.minT.Load() }

// MaxTime is the newest sample's timestamp ever appended to the head,
// math.MinInt64 before the first.
func (h *Head) MaxTime() int64 { return h.maxT.Load() }

// Empty reports whether the head holds no sample.
func (h *Head) Empty() bool { return h.minT.Load() > h.maxT.Load() }

// inWindow reports whether the out-of-order window takes a sample at t:
// no older than the window before the head's newest sample. The window may
// be as large as math.MaxInt64 (every timestamp): where the subtraction
// would overflow, the window's start is below every timestamp.
func (h *Head) inWindow(t int64) bool {
	w := h.opts.OutOfOrderWindow
	if w <= 0 {
		return false
	}
	m := h.maxT.Load()
	return m < math.MinInt64+w || t >= m-w
}

// updateRange widens the head's time range.
func (h *Head) updateRange(mint, maxt int64) {
	lowerTo(&h.minT, mint)
	lowerTo(&h.recentMin, mint)
	for {
		cur := h.maxT.Load()
		if maxt <= cur || h.maxT.CompareAndSwap(cur, maxt) {
			break
		}
	}
}

// lowerTo sets a to v if v is lower.
func lowerTo(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v >= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// HeadStats describes the head for the demo and `inspect`.
type HeadStats struct {
	Series       int
	MinT, MaxT   int64
	OpenChunks   int
	MappedChunks int
	OOOChunks    int
	// OpenHistogramChunks are the open chunks holding histograms (among
	// OpenChunks; their bytes are not in OpenChunkBytes).
	OpenHistogramChunks int
	// PastChunks hold out-of-order samples older than the head's lower
	// bound, waiting for compaction to write them to blocks of their own.
	PastChunks     int
	OpenChunkBytes int64 // bytes of open chunks on the Go heap
	HeadChunkBytes int64 // bytes written to the head-chunks files
	// UnmappedChunks are full chunks kept in memory because the
	// head-chunks file refused them (ChunkWriteErrors times so far) or,
	// with a chunk write queue, because their turn has not come yet.
	UnmappedChunks   int
	ChunkWriteErrors uint64
	SamplesAppended  uint64
	OOOAccepted      uint64 // out-of-order samples accepted, PastAccepted among them
	PastAccepted     uint64 // of those, older than the head's lower bound
}

// Stats walks the head's series.
func (h *Head) Stats() HeadStats {
	st := HeadStats{MinT: h.MinTime(), MaxT: h.MaxTime(), SamplesAppended: h.samples.Load(), OOOAccepted: h.oooCount.Load(), PastAccepted: h.pastCount.Load(), ChunkWriteErrors: h.chunkWriteErrs.Load()}
	h.byID.each(func(s *memSeries) bool {
		s.mu.Lock()
		st.Series++
		st.MappedChunks += len(s.mmapped)
		if s.openN > 0 {
			st.OpenChunks++
			st.OpenChunkBytes += int64(len(s.open.Bytes()))
		}
		if s.is(flagHistOpen) {
			st.OpenChunks++
			st.OpenHistogramChunks++
		}
		if o := s.ooo(); o != nil {
			st.OOOChunks += len(o.chunks)
		}
		if p := s.past(); p != nil {
			st.PastChunks += len(p.chunks)
		}
		if s.extra != nil {
			st.UnmappedChunks += len(s.extra.unmapped)
		}
		s.mu.Unlock()
		return true
	})
	if h.hc != nil {
		st.HeadChunkBytes = h.hc.Size()
	}
	return st
}

// writeFull stores a chunk that has just become full in the head-chunks
// file. Called with s.mu held. If the file refuses it (a full disk), the
// chunk stays in memory, readable as before, and is written first the next
// time the series fills a chunk: a series' chunks in the file are always
// its oldest ones, with no gap, which WAL replay relies on (it skips the
// samples up to the last chunk it re-maps). Nothing is lost and no Commit
// fails for it; HeadStats counts it. With a chunk write queue
// (chunkqueue.go), the chunk joins the series' unmapped ones at once and
// the queue's goroutine writes them.
func (h *Head) writeFull(s *memSeries, data []byte, mint, maxt int64) {
	c := memChunk{minT: mint, maxT: maxt, data: data[:len(data):len(data)]}
	if h.cq != nil {
		x := s.more()
		x.unmapped = append(x.unmapped, c)
		if !h.cq.add(s) {
			h.mapChunks(s, x.unmapped)
		}
		return
	}
	var queue []memChunk
	if x := s.extra; x != nil {
		queue = x.unmapped
	}
	h.mapChunks(s, append(queue, c))
}

// mapChunks writes queue, s's full chunks not in the file, oldest first,
// to the head-chunks file and keeps those it refuses as s's unmapped ones.
// Called with s.mu held.
func (h *Head) mapChunks(s *memSeries, queue []memChunk) {
	for len(queue) > 0 {
		c := queue[0]
		ref, err := h.writeChunk(s.ref, c.minT, c.maxT, c.data)
		if err != nil {
			err = fmt.Errorf("tsdb: head chunk of series %d kept in memory: %w", s.ref, err)
			h.chunkErr.Store(&err)
			h.chunkWriteErrs.Add(1)
			break
		}
		s.mmapped = append(s.mmapped, chunks.Meta{Ref: ref, MinT: c.minT, MaxT: c.maxT})
		queue = queue[1:]
	}
	if len(queue) > 0 {
		s.more().unmapped = append([]memChunk(nil), queue...)
	} else if s.extra != nil && s.extra.unmapped != nil {
		s.extra.unmapped = nil
		s.tidy()
	}
}

// ChunkWriteError is the last error writing a full chunk to the
// head-chunks file, nil if there was none.
func (h *Head) ChunkWriteError() error {
	if e := h.chunkErr.Load(); e != nil {
		return *e
	}
	return nil
}

// truncateMemory drops everything before mint from the head: mapped chunks
// ending before it, open chunks of series idle since, out-of-order samples
// and tombstones before it, isolation entries every reader sees, and series
// left with nothing. The data is in a
// block by now; the caller has waited for queriers that might still read
// it.
//
// It also sets minT to the oldest sample left, so that a head holding
// sparse data (last year's import and one sample of today) is cut only
// where it has samples. Commits run meanwhile: one that applied a sample
// before the walk passed its series is seen by the walk; one that applied
// it after lowers recentMin, which the walk started afresh, or, if it
// updates the range after minT is stored, lowers minT itself.
func (h *Head) truncateMemory(mint int64, yield func()) (removed int) {
	var dead []*memSeries
	low := h.iso.low.Load()
	h.recentMin.Store(math.MaxInt64)
	oldest := int64(math.MaxInt64)
	n := 0
	h.byID.each(func(s *memSeries) bool {
		if n++; n%yieldEvery == 0 {
			yield() // between two series, no lock held
		}
		s.mu.Lock()
		i := 0
		for i < len(s.mmapped) && s.mmapped[i].MaxT < mint {
			i++
		}
		if i > 0 {
			// A new slice: a reader may still hold the old one.
			s.mmapped = append([]chunks.Meta(nil), s.mmapped[i:]...)
		}
		if s.openN > 0 && s.maxT < mint {
			s.openN = 0
			s.open, s.app = gorilla.Chunk{}, gorilla.Appender{}
			s.txID = 0
			if s.extra != nil {
				s.extra.txs = nil
			}
		}
		if s.is(flagHistOpen) && s.maxT < mint {
			s.extra.hist.w = nil
			s.clear(flagHistOpen)
			s.txID = 0
			s.extra.txs = nil
		}
		if x := s.extra; x != nil {
			x.txs = forgetSeen(x.txs, low)
			if len(x.txs) == 0 {
				x.txs = nil
			}
			if x.ooo != nil {
				x.ooo.truncate(mint)
				if x.ooo.empty() {
					x.ooo = nil
				}
			}
			if len(x.unmapped) > 0 {
				k := 0
				for k < len(x.unmapped) && x.unmapped[k].maxT < mint {
					k++
				}
				if k > 0 {
					// A new slice: a reader may still hold the old one.
					x.unmapped = append([]memChunk(nil), x.unmapped[k:]...)
				}
				if len(x.unmapped) == 0 {
					x.unmapped = nil
				}
			}
			if len(x.stones) > 0 {
				// A deleted range still reaching samples of the past
				// store stays: they are older than mint.
				lo := mint
				if x.past != nil {
					lo = min(lo, x.past.minTime())
				}
				var keep block.Intervals
				for _, iv := range x.stones {
					if iv.Maxt >= lo {
						keep = append(keep, iv)
					}
				}
				x.stones = keep
			}
			s.tidy()
		}
		if len(s.mmapped) == 0 && s.openN == 0 && !s.is(flagHistOpen) && s.ooo() == nil && s.past() == nil && (s.extra == nil || s.extra.unmapped == nil) && !s.is(flagHasPending) && !s.pinned() {
			s.set(flagDead)
			dead = append(dead, s)
		} else {
			oldest = min(oldest, s.minTime())
		}
		s.mu.Unlock()
		return true
	})
	h.createMu.Lock()
	for _, s := range dead {
		h.ix.Delete(s.id)
		h.byRef.del(s.ref)
		h.byID.del(uint64(s.id))
	}
	h.unlockCreate()
	h.minT.Store(min(oldest, h.recentMin.Load()))
	return len(dead)
}
