package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// ErrUnknownRef: Append got a ref the head does not know (or no longer
// knows: the series was truncated away) and no labels to find it by.
var ErrUnknownRef = errors.New("tsdb: unknown series ref")

// Appender adds samples in a batch that becomes visible at once on Commit.
// An Appender is for one goroutine; use one per goroutine. After Commit or
// Rollback it must not be used again.
type Appender interface {
	// Append adds a sample to the series named by ref (from an earlier
	// Append; 0 if unknown) or else by lset, and returns the series' ref
	// for the next Append. Errors: ErrOutOfOrder, ErrDuplicate,
	// ErrOutOfBounds, ErrUnknownRef, and Options.AdmitSeries's refusal of
	// a new series; the batch is unaffected by a refused sample.
	Append(ref uint64, lset model.Labels, t int64, v float64) (uint64, error)
	// Commit logs the batch to the WAL (returning once the sync policy is
	// met) and then applies it to the head.
	Commit() error
	// Rollback discards the batch.
	Rollback() error
}

type pendingSample struct {
	s   *memSeries
	t   int64
	v   float64
	ooo bool
}

// headAppender is the Appender of the head. Its buffers are pooled, so a
// scrape loop that takes an appender per scrape allocates nothing in steady
// state.
type headAppender struct {
	h    *Head
	db   *DB
	mint int64
	maxt int64
	done bool
	*appendBufs
}

// appendBufs are the reusable buffers of an appender.
type appendBufs struct {
	pending []pendingSample
	walS    []wal.RefSample
	series  []wal.RefSeries
	toLog   []*memSeries // series whose record goes into this commit
	recS    []byte
	recX    []byte
	slab    chunkSlab
}

var bufPool = sync.Pool{New: func() any { return &appendBufs{} }}

// Appender returns a new appender. The context is accepted for the shape of
// the API (Prometheus's Appender(ctx)); appending does not block on it.
func (db *DB) Appender(_ context.Context) Appender {
	return &headAppender{h: db.head, db: db, mint: math.MaxInt64, maxt: math.MinInt64, appendBufs: bufPool.Get().(*appendBufs)}
}

func (a *headAppender) Append(ref uint64, lset model.Labels, t int64, v float64) (uint64, error) {
	if a.done {
		return 0, ErrClosed
	}
	h := a.h
	if t < h.minValid.Load() {
		return 0, fmt.Errorf("%w: t=%d before %d", ErrOutOfBounds, t, h.minValid.Load())
	}
	var s *memSeries
	if ref != 0 {
		s = h.byRef.get(ref)
	}
	for {
		if s == nil {
			if lset.Len() == 0 {
				return 0, fmt.Errorf("%w: %d", ErrUnknownRef, ref)
			}
			var err error
			if s, _, err = h.getOrCreate(lset); err != nil {
				return 0, err
			}
		}
		s.mu.Lock()
		if !s.dead {
			break
		}
		s.mu.Unlock()
		s = nil
		if lset.Len() == 0 {
			return 0, fmt.Errorf("%w: %d (series removed by truncation)", ErrUnknownRef, ref)
		}
	}
	ooo := false
	switch {
	case t > s.maxT && t > s.pending:
		s.pending = t
	case t == s.maxT && s.pending <= t:
		dup := math.Float64bits(v) == math.Float64bits(s.lastV)
		s.mu.Unlock()
		if dup {
			return s.ref, nil // the same sample again: nothing to do
		}
		return s.ref, fmt.Errorf("%w: series %d t=%d", ErrDuplicate, s.ref, t)
	case h.opts.OutOfOrderWindow > 0 && t >= h.maxT.Load()-h.opts.OutOfOrderWindow:
		ooo = true
	default:
		newest := max(s.maxT, s.pending) // read under the lock: another appender may be writing it
		s.mu.Unlock()
		return s.ref, fmt.Errorf("%w: series %d t=%d, newest %d", ErrOutOfOrder, s.ref, t, newest)
	}
	logged := s.logged
	s.mu.Unlock()
	if !logged {
		if lset.Len() == 0 {
			lset, _ = h.ix.Labels(s.id)
		}
		a.series = append(a.series, wal.RefSeries{Ref: s.ref, Labels: lset})
		a.toLog = append(a.toLog, s)
	}
	a.pending = append(a.pending, pendingSample{s: s, t: t, v: v, ooo: ooo})
	a.mint, a.maxt = min(a.mint, t), max(a.maxt, t)
	return s.ref, nil
}

// records encodes the batch's WAL records: the series records, and the
// samples unless for Rollback.
func (a *headAppender) records(withSamples bool) [][]byte {
	var recs [][]byte
	if len(a.series) > 0 {
		a.recS = wal.AppendSeries(a.recS[:0], a.series)
		recs = append(recs, a.recS)
	}
	if withSamples && len(a.pending) > 0 {
		// The samples' WAL form is built here, at its final size, rather
		// than grown an Append at a time.
		a.walS = slices.Grow(a.walS[:0], len(a.pending))
		for _, p := range a.pending {
			a.walS = append(a.walS, wal.RefSample{Ref: p.s.ref, T: p.t, V: p.v})
		}
		a.recX = wal.AppendSamples(a.recX[:0], a.walS)
		recs = append(recs, a.recX)
	}
	return recs
}

func (a *headAppender) markLogged() {
	for _, s := range a.toLog {
		s.mu.Lock()
		s.logged = true
		s.mu.Unlock()
	}
}

func (a *headAppender) Commit() error {
	if a.done {
		return ErrClosed
	}
	defer a.release()
	h := a.h
	if recs := a.records(true); len(recs) > 0 {
		if err := h.wal.Log(recs...); err != nil {
			a.resetPending()
			return fmt.Errorf("tsdb: commit: %w", err)
		}
	}
	// The series records are in the WAL now. Every series of a.toLog has a
	// sample in a.pending (Append adds to both or to neither), so the loop
	// below marks them logged under the lock it takes anyway, instead of a
	// second lock per new series (markLogged, which Rollback uses).
	id := h.iso.begin()
	low := h.iso.low.Load()
	var dropped, ooo, oob uint64
	minValid := h.minValid.Load()
	for _, p := range a.pending {
		s := p.s
		s.mu.Lock()
		s.logged = true
		switch {
		case p.t < minValid:
			// A head cut took the range between Append and Commit.
			oob++
		case !p.ooo && p.t > s.maxT:
			if full, fmin, fmax := s.appendInOrder(p.t, p.v, h.opts.BlockRange, id, low, &a.slab); full != nil {
				h.writeFull(s, full, fmin, fmax)
			}
		case p.ooo || h.opts.OutOfOrderWindow > 0:
			// Accepted as out of order at Append, or became so because
			// another appender committed a newer sample first.
			if p.t == s.maxT {
				dropped++ // same timestamp as the in-order sample: it wins
				break
			}
			s.addOOO(p.t, p.v)
			ooo++
		default:
			// Another appender committed a sample at or after p.t between
			// our Append and Commit. The WAL has ours; replay applies the
			// records in log order, so it may keep it.
			dropped++
		}
		if s.pending <= p.t {
			s.pending = math.MinInt64
		}
		s.mu.Unlock()
	}
	h.iso.end(id)
	if len(a.pending) > 0 {
		h.updateRange(a.mint, a.maxt)
		h.samples.Add(uint64(len(a.pending)) - dropped - oob)
		h.oooCount.Add(ooo)
		h.dropped.Add(dropped)
		a.db.maybeCompact()
	}
	if e := h.chunkErr.Swap(nil); e != nil {
		return *e
	}
	if oob > 0 {
		return fmt.Errorf("%w: %d samples of the batch fell into a range cut to a block during the commit", ErrOutOfBounds, oob)
	}
	return nil
}

// resetPending forgets the batch's claims on its series' timestamps.
func (a *headAppender) resetPending() {
	for _, p := range a.pending {
		p.s.mu.Lock()
		if p.s.pending <= p.t {
			p.s.pending = math.MinInt64
		}
		p.s.mu.Unlock()
	}
}

func (a *headAppender) Rollback() error {
	if a.done {
		return ErrClosed
	}
	defer a.release()
	a.resetPending()
	// The series created by the batch stay in the head (another appender
	// may already use their refs), so their records are logged.
	if recs := a.records(false); len(recs) > 0 {
		if err := a.h.wal.Log(recs...); err != nil {
			return fmt.Errorf("tsdb: rollback: %w", err)
		}
		a.markLogged()
	}
	return nil
}

func (a *headAppender) release() {
	a.done = true
	clear(a.pending)
	clear(a.series)
	clear(a.toLog)
	a.pending, a.walS, a.series, a.toLog = a.pending[:0], a.walS[:0], a.series[:0], a.toLog[:0]
	bufPool.Put(a.appendBufs)
	a.appendBufs = nil
}
