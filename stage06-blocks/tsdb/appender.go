package tsdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/chunks"
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
	// for the next Append. The series' newest sample again, same
	// timestamp and same value bits, is accepted and not stored twice.
	// Errors: ErrDuplicate (same timestamp, another value),
	// ErrOutOfOrder, ErrOutOfBounds, ErrTooOld, ErrTooNew,
	// ErrUnknownRef, and Options.AdmitSeries's refusal of a new series;
	// the batch is unaffected by a refused sample.
	Append(ref uint64, lset model.Labels, t int64, v float64) (uint64, error)
	// AppendHistogram adds a native histogram sample, integer (h) or
	// float (fh): exactly one of them not nil, valid (histogram.Validate;
	// errors wrap histogram.ErrInvalid). The appender keeps a copy. The
	// rules are Append's: a histogram and a float (or two different
	// histograms) at a series' same timestamp are ErrDuplicate, the same
	// histogram again is accepted once. A series may change kinds over
	// time; each change cuts its open chunk.
	AppendHistogram(ref uint64, lset model.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error)
	// Commit logs the batch to the WAL (returning once the sync policy is
	// met) and then applies it to the head. An error from the WAL means
	// nothing was applied; a *CommitError, that all but the samples it
	// counts were.
	Commit() error
	// Rollback discards the batch.
	Rollback() error
}

// pendingSample is a float sample of the batch, apart from its ref, time
// and value: those are in walS, in the form the WAL record is encoded
// from, so Commit encodes the batch without copying it once more.
type pendingSample struct {
	s *memSeries
	// ooo: accepted out of order or below the head's lower bound; such a
	// sample pins its series until Commit or Rollback (memSeries.pin).
	ooo bool
	seq int32 // which accepted sample of the batch (CommitError.Samples)
}

// pendingHist is a histogram sample of the batch. Histograms have a list
// of their own, so that float samples stay 32 bytes; Commit applies each
// part of the batch's floats, then its histograms, and a series getting a
// float after a histogram starts a new part (cut), as Prometheus's
// appender cuts its batches, so every sample is applied in append order
// relative to the other samples of its series.
type pendingHist struct {
	s   *memSeries
	hs  hsample
	ooo bool
	seq int32
}

// headAppender is the Appender of the head. Its buffers are pooled, so a
// scrape loop that takes an appender per scrape allocates nothing in steady
// state.
type headAppender struct {
	h  *Head
	db *DB
	// oldest and newest bound the timestamps the batch takes: the
	// retention and the future grace, from the clock read once when the
	// appender was made (a batch is short; a clock read per sample is not
	// free).
	oldest, newest int64
	done           bool
	*appendBufs
}

// appendBufs are the reusable buffers of an appender.
type appendBufs struct {
	// pending[i] and walS[i] are the batch's i-th float sample.
	pending  []pendingSample
	pendingH []pendingHist
	walH     []wal.RefHistogram
	walFH    []wal.RefFloatHistogram
	recH     []byte
	recFH    []byte
	// histKinds: the histogram kind each series got in the batch's
	// current part; cuts: where the parts end (cut).
	histKinds map[*memSeries]chunks.Encoding
	cuts      []batchCut
	walS      []wal.RefSample
	series    []wal.RefSeries
	toLog     []*memSeries            // series whose record goes into this commit
	inLog     map[*memSeries]struct{} // the series of toLog (logSeries)
	recS      []byte
	recX      []byte
	slab      chunkSlab
	// accepted counts the Append and AppendHistogram calls that returned
	// no error: a sample's seq, which CommitError.Samples gives back.
	accepted int32
}

var bufPool = sync.Pool{New: func() any { return &appendBufs{} }}

// Appender returns a new appender. The context is accepted for the shape of
// the API (Prometheus's Appender(ctx)); appending does not block on it.
func (db *DB) Appender(_ context.Context) Appender {
	oldest, newest := db.timeBounds()
	return &headAppender{h: db.head, db: db, oldest: oldest, newest: newest, appendBufs: bufPool.Get().(*appendBufs)}
}

// timeBounds are the oldest and newest timestamps a sample may have now:
// the clock minus the retention, the clock plus the future grace, within
// [MinTimestamp, MaxTimestamp].
func (db *DB) timeBounds() (oldest, newest int64) {
	now := db.opts.Now().UnixMilli()
	oldest, newest = MinTimestamp, MaxTimestamp
	if rt := db.opts.RetentionTime; rt > 0 {
		oldest = max(oldest, now-rt)
	}
	if g := db.opts.FutureGrace; g >= 0 {
		newest = min(newest, now+g)
	}
	return oldest, newest
}

// checkTime refuses a timestamp outside [a.oldest, a.newest].
func (a *headAppender) checkTime(t int64) error {
	switch {
	case t < MinTimestamp:
		return fmt.Errorf("%w: t=%d is before the earliest timestamp stored (%d)", ErrTooOld, t, MinTimestamp)
	case t > MaxTimestamp:
		return fmt.Errorf("%w: t=%d is after the latest timestamp stored (%d)", ErrTooNew, t, MaxTimestamp)
	case t < a.oldest:
		return fmt.Errorf("%w: t=%d (%s) is before %s, the retention of %s back from now", ErrTooOld, t, fmtMillis(t), fmtMillis(a.oldest), time.Duration(a.db.opts.RetentionTime)*time.Millisecond)
	case t > a.newest:
		return fmt.Errorf("%w: t=%d (%s) is after %s, now plus the grace of %s", ErrTooNew, t, fmtMillis(t), fmtMillis(a.newest), time.Duration(a.db.opts.FutureGrace)*time.Millisecond)
	}
	return nil
}

// fmtMillis formats a timestamp for an error message.
func fmtMillis(t int64) string { return time.UnixMilli(t).UTC().Format(time.RFC3339Nano) }

func (a *headAppender) Append(ref uint64, lset model.Labels, t int64, v float64) (uint64, error) {
	ref, err := a.appendFloat(ref, lset, t, v)
	if err == nil {
		a.accepted++
	}
	return ref, err
}

func (a *headAppender) appendFloat(ref uint64, lset model.Labels, t int64, v float64) (uint64, error) {
	if a.done {
		return 0, ErrClosed
	}
	if err := a.checkTime(t); err != nil {
		return 0, err
	}
	h := a.h
	if minValid := h.minValid.Load(); t < minValid {
		// The range is in a block already. Within the out-of-order window
		// the sample goes to the series' past store, which compaction
		// writes to a block of its own (flushPast).
		if !h.inWindow(t) {
			return 0, fmt.Errorf("%w: t=%d before %d, the end of the newest block cut from the head", ErrOutOfBounds, t, minValid)
		}
		s, err := a.lockSeries(ref, lset)
		if err != nil {
			return 0, err
		}
		isLogged := s.is(flagLogged)
		s.pin()
		s.mu.Unlock()
		a.add(s, isLogged, lset, t, v, true)
		return s.ref, nil
	}
	s, err := a.lockSeries(ref, lset)
	if err != nil {
		return 0, err
	}
	// s.mu is held.
	ooo := false
	switch {
	case s.is(flagHasMax) && t == s.maxT:
		// The newest committed sample again. The same value (a retried
		// request, federation) is accepted and not stored twice, as in
		// Prometheus; another value is a conflict.
		same := math.Float64bits(v) == math.Float64bits(s.lastV) && !s.is(flagLastHist)
		s.mu.Unlock()
		if same {
			return s.ref, nil
		}
		return s.ref, fmt.Errorf("%w: series %d t=%d: %v, stored %v", ErrDuplicate, s.ref, t, v, s.lastV)
	case (!s.is(flagHasMax) || t > s.maxT) && (!s.is(flagHasPending) || t > s.pending):
		s.pending = t
		s.set(flagHasPending)
	case s.is(flagHasPending) && t == s.pending:
		// The newest timestamp an uncommitted batch claimed. This batch's
		// own: as above. Another appender's: its value is unknown until it
		// commits, so Commit settles it (stored if that one rolls back,
		// not stored twice if it is the same sample, refused otherwise).
		isLogged := s.is(flagLogged)
		s.mu.Unlock()
		if pv, ok := a.pendingValue(s, t); ok {
			if math.Float64bits(v) == math.Float64bits(pv) {
				return s.ref, nil
			}
			return s.ref, fmt.Errorf("%w: series %d t=%d: %v, %v earlier in the batch", ErrDuplicate, s.ref, t, v, pv)
		}
		if _, ok := a.pendingHist(s, t); ok {
			return s.ref, fmt.Errorf("%w: series %d t=%d: float %v, a histogram earlier in the batch", ErrDuplicate, s.ref, t, v)
		}
		a.add(s, isLogged, lset, t, v, false)
		return s.ref, nil
	case h.inWindow(t):
		ooo = true
	default:
		newest := s.maxT
		if s.is(flagHasPending) {
			newest = max(newest, s.pending)
		}
		s.mu.Unlock()
		return s.ref, fmt.Errorf("%w: series %d t=%d, newest %d", ErrOutOfOrder, s.ref, t, newest)
	}
	isLogged := s.is(flagLogged)
	if ooo {
		s.pin()
	}
	s.mu.Unlock()
	a.add(s, isLogged, lset, t, v, ooo)
	return s.ref, nil
}

// lockSeries returns the series named by ref, or else by lset, created if
// needed, with its lock held and not removed by truncation.
func (a *headAppender) lockSeries(ref uint64, lset model.Labels) (*memSeries, error) {
	h := a.h
	var s *memSeries
	if ref != 0 {
		s = h.byRef.get(ref)
	}
	for {
		if s == nil {
			if lset.Len() == 0 {
				return nil, fmt.Errorf("%w: %d", ErrUnknownRef, ref)
			}
			var err error
			if s, _, err = h.getOrCreate(lset); err != nil {
				return nil, err
			}
		}
		s.mu.Lock()
		if !s.is(flagDead) {
			return s, nil
		}
		s.mu.Unlock()
		s = nil
		if lset.Len() == 0 {
			return nil, fmt.Errorf("%w: %d (series removed by truncation)", ErrUnknownRef, ref)
		}
	}
}

// add puts an accepted sample into the batch, with the series record if
// the WAL has none yet (isLogged, read under the series' lock).
func (a *headAppender) add(s *memSeries, isLogged bool, lset model.Labels, t int64, v float64, ooo bool) {
	if len(a.histKinds) > 0 {
		if _, ok := a.histKinds[s]; ok {
			a.cut() // a float after a histogram of s in this part
		}
	}
	if !isLogged {
		a.logSeries(s, lset)
	}
	a.pending = append(a.pending, pendingSample{s: s, ooo: ooo, seq: a.accepted})
	a.walS = append(a.walS, wal.RefSample{Ref: s.ref, T: t, V: v})
}

// logSeries puts the series record of s, not in the WAL yet, into the
// batch, once: a series is flagged logged only at Commit, so until then
// every sample of it here finds it unlogged, and the batch's other samples
// of s (appended by ref, without labels) need no record of their own, nor
// a label set read back from the index. A batch of new series otherwise
// logged each one once per sample, rebuilding its labels each time: most
// of what a burst of new series cost the appenders.
func (a *headAppender) logSeries(s *memSeries, lset model.Labels) {
	if _, ok := a.inLog[s]; ok {
		return
	}
	if a.inLog == nil {
		a.inLog = map[*memSeries]struct{}{}
	}
	a.inLog[s] = struct{}{}
	if lset.Len() == 0 {
		lset, _ = a.h.ix.Labels(s.id)
	}
	a.series = append(a.series, wal.RefSeries{Ref: s.ref, Labels: lset})
	a.toLog = append(a.toLog, s)
}

// AppendHistogram: see Appender.
func (a *headAppender) AppendHistogram(ref uint64, lset model.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	ref, err := a.appendHist(ref, lset, t, h, fh)
	if err == nil {
		a.accepted++
	}
	return ref, err
}

func (a *headAppender) appendHist(ref uint64, lset model.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	if a.done {
		return 0, ErrClosed
	}
	var hs hsample
	switch {
	case (h == nil) == (fh == nil):
		return 0, fmt.Errorf("tsdb: append histogram: %w: exactly one of the integer and the float form", histogram.ErrInvalid)
	case h != nil:
		if err := h.Validate(); err != nil {
			return 0, fmt.Errorf("tsdb: append histogram: %w", err)
		}
		hs = hsample{t: t, h: h.Copy()}
	default:
		if err := fh.Validate(); err != nil {
			return 0, fmt.Errorf("tsdb: append histogram: %w", err)
		}
		hs = hsample{t: t, fh: fh.Copy()}
	}
	if err := a.checkTime(t); err != nil {
		return 0, err
	}
	hd := a.h
	if minValid := hd.minValid.Load(); t < minValid {
		if !hd.inWindow(t) {
			return 0, fmt.Errorf("%w: t=%d before %d, the end of the newest block cut from the head", ErrOutOfBounds, t, minValid)
		}
		s, err := a.lockSeries(ref, lset)
		if err != nil {
			return 0, err
		}
		isLogged := s.is(flagLogged)
		s.pin()
		s.mu.Unlock()
		a.addHist(s, isLogged, lset, hs, true)
		return s.ref, nil
	}
	s, err := a.lockSeries(ref, lset)
	if err != nil {
		return 0, err
	}
	ooo := false
	switch {
	case s.is(flagHasMax) && t == s.maxT:
		last := s.lastSample()
		s.mu.Unlock()
		if sameSample(&last, &hs) {
			return s.ref, nil
		}
		return s.ref, fmt.Errorf("%w: series %d t=%d: a %s, stored a %s", ErrDuplicate, s.ref, t, hs.typ(), last.typ())
	case (!s.is(flagHasMax) || t > s.maxT) && (!s.is(flagHasPending) || t > s.pending):
		s.pending = t
		s.set(flagHasPending)
	case s.is(flagHasPending) && t == s.pending:
		isLogged := s.is(flagLogged)
		s.mu.Unlock()
		if _, ok := a.pendingValue(s, t); ok {
			return s.ref, fmt.Errorf("%w: series %d t=%d: a %s, a float earlier in the batch", ErrDuplicate, s.ref, t, hs.typ())
		}
		if p, ok := a.pendingHist(s, t); ok {
			if sameSample(&p, &hs) {
				return s.ref, nil
			}
			return s.ref, fmt.Errorf("%w: series %d t=%d: another histogram earlier in the batch", ErrDuplicate, s.ref, t)
		}
		a.addHist(s, isLogged, lset, hs, false)
		return s.ref, nil
	case hd.inWindow(t):
		ooo = true
	default:
		newest := s.maxT
		if s.is(flagHasPending) {
			newest = max(newest, s.pending)
		}
		s.mu.Unlock()
		return s.ref, fmt.Errorf("%w: series %d t=%d, newest %d", ErrOutOfOrder, s.ref, t, newest)
	}
	isLogged := s.is(flagLogged)
	if ooo {
		s.pin()
	}
	s.mu.Unlock()
	a.addHist(s, isLogged, lset, hs, ooo)
	return s.ref, nil
}

// addHist is add for a histogram sample.
func (a *headAppender) addHist(s *memSeries, isLogged bool, lset model.Labels, hs hsample, ooo bool) {
	k := hs.enc()
	if prev, ok := a.histKinds[s]; ok && prev != k {
		a.cut() // the other histogram kind
	}
	if a.histKinds == nil {
		a.histKinds = map[*memSeries]chunks.Encoding{}
	}
	a.histKinds[s] = k
	if !isLogged {
		a.logSeries(s, lset)
	}
	a.pendingH = append(a.pendingH, pendingHist{s: s, hs: hs, ooo: ooo, seq: a.accepted})
}

// pendingHist finds the histogram this batch appended to s at t.
func (a *headAppender) pendingHist(s *memSeries, t int64) (hsample, bool) {
	for i := len(a.pendingH) - 1; i >= 0; i-- {
		if p := &a.pendingH[i]; p.s == s && p.hs.t == t && !p.ooo {
			return p.hs, true
		}
	}
	return hsample{}, false
}

// pendingValue finds the value this batch appended to s at t. It scans the
// batch backwards, which only a sample claiming the batch's newest
// timestamp of its series again (a duplicate) pays for.
func (a *headAppender) pendingValue(s *memSeries, t int64) (float64, bool) {
	for i := len(a.pending) - 1; i >= 0; i-- {
		if p, w := &a.pending[i], &a.walS[i]; p.s == s && w.T == t && !p.ooo {
			return w.V, true
		}
	}
	return 0, false
}

// records encodes the batch's WAL records: the series records, and the
// samples unless for Rollback.
func (a *headAppender) records(withSamples bool) [][]byte {
	var recs [][]byte
	if len(a.series) > 0 {
		a.recS = wal.AppendSeries(a.recS[:0], a.series)
		recs = append(recs, a.recS)
	}
	if !withSamples {
		return recs
	}
	if len(a.cuts) > 0 {
		return a.partRecords(recs)
	}
	if len(a.walS) > 0 {
		a.recX = wal.AppendDenseSamples(a.recX[:0], a.walS)
		recs = append(recs, a.recX)
	}
	if len(a.pendingH) > 0 {
		recs = a.histRecords(recs, a.pendingH, true)
	}
	return recs
}

// histRecords appends the records of histogram samples ps to recs: one of
// integer and one of float histograms. reuse: into the appender's buffers
// (only one call per batch may).
func (a *headAppender) histRecords(recs [][]byte, ps []pendingHist, reuse bool) [][]byte {
	a.walH, a.walFH = a.walH[:0], a.walFH[:0]
	for _, p := range ps {
		if p.hs.h != nil {
			a.walH = append(a.walH, wal.RefHistogram{Ref: p.s.ref, T: p.hs.t, H: p.hs.h})
		} else {
			a.walFH = append(a.walFH, wal.RefFloatHistogram{Ref: p.s.ref, T: p.hs.t, FH: p.hs.fh})
		}
	}
	var rh, rfh []byte
	if reuse {
		rh, rfh = a.recH[:0], a.recFH[:0]
	}
	if len(a.walH) > 0 {
		rh = wal.AppendHistograms(rh, a.walH)
		recs = append(recs, rh)
	}
	if len(a.walFH) > 0 {
		rfh = wal.AppendFloatHistograms(rfh, a.walFH)
		recs = append(recs, rfh)
	}
	if reuse {
		a.recH, a.recFH = rh, rfh
	}
	return recs
}

// partRecords is records for a batch in several parts (cut): each part's
// samples, then its histograms, so that replay applies them in the order
// Commit does. Rare (a series getting a float after a histogram in one
// batch): its records are allocated.
func (a *headAppender) partRecords(recs [][]byte) [][]byte {
	f0, h0 := 0, 0
	for part := 0; part <= len(a.cuts); part++ {
		f1, h1 := len(a.pending), len(a.pendingH)
		if part < len(a.cuts) {
			f1, h1 = a.cuts[part].f, a.cuts[part].h
		}
		if f1 > f0 {
			recs = append(recs, wal.AppendDenseSamples(nil, a.walS[f0:f1]))
		}
		if h1 > h0 {
			recs = a.histRecords(recs, a.pendingH[h0:h1], false)
		}
		f0, h0 = f1, h1
	}
	return recs
}

// cut ends the batch's current type-clean part, as Prometheus's appender
// starts a new batch: a series' samples of a part are of one kind, and a
// part's floats are applied before its histograms, so a float after a
// histogram of the same series (or another histogram kind) must start a
// part, or Commit would apply it first.
func (a *headAppender) cut() {
	a.cuts = append(a.cuts, batchCut{f: len(a.pending), h: len(a.pendingH)})
	clear(a.histKinds)
}

// batchCut is where a part of the batch ends: its floats are pending[:f],
// its histograms pendingH[:h] (after the previous cut's).
type batchCut struct{ f, h int }

func (a *headAppender) markLogged() {
	for _, s := range a.toLog {
		s.mu.Lock()
		s.set(flagLogged)
		s.mu.Unlock()
	}
}

// CommitError is what Commit returns when it stored the batch except some
// samples that became unstorable between their Append and the Commit: a
// head cut took their range (OutOfBounds), or another appender committed
// a sample of the same series first, at the same timestamp with another
// value (Duplicate) or at a later one (OutOfOrder). The rest of the batch
// is stored. errors.Is matches the sentinel of each kind present.
type CommitError struct {
	OutOfBounds, Duplicate, OutOfOrder int
	// Samples says which: a caller that batched many clients' samples
	// answers each client for its own (stage11's pipeline).
	Samples []RefusedSample
}

// RefusedSample is a sample Commit did not store. Index counts the
// appender's accepted samples (the Append and AppendHistogram calls that
// returned no error) from 0 in call order; Err is ErrOutOfBounds,
// ErrDuplicate or ErrOutOfOrder.
type RefusedSample struct {
	Index int
	Err   error
}

func (e *CommitError) refuse(seq int32, err error) {
	switch err {
	case ErrOutOfBounds:
		e.OutOfBounds++
	case ErrDuplicate:
		e.Duplicate++
	default:
		e.OutOfOrder++
	}
	e.Samples = append(e.Samples, RefusedSample{int(seq), err})
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("tsdb: commit: %d samples not stored: %d out of bounds (their range was cut to a block meanwhile), %d duplicate and %d out of order (another writer committed to their series first)",
		e.Refused(), e.OutOfBounds, e.Duplicate, e.OutOfOrder)
}

// Refused is the number of samples of the batch not stored.
func (e *CommitError) Refused() int { return e.OutOfBounds + e.Duplicate + e.OutOfOrder }

func (e *CommitError) Is(target error) bool {
	return target == ErrOutOfBounds && e.OutOfBounds > 0 || target == ErrDuplicate && e.Duplicate > 0 || target == ErrOutOfOrder && e.OutOfOrder > 0
}

func (a *headAppender) Commit() error {
	if a.done {
		return ErrClosed
	}
	defer a.release()
	h := a.h
	if h.opts.OutOfOrderWindow > 0 {
		defer h.commits.exit(h.commits.enter())
	}
	if recs := a.records(true); len(recs) > 0 {
		if err := h.wal.Log(recs...); err != nil {
			a.resetPending()
			return fmt.Errorf("tsdb: commit: %w", err)
		}
	}
	if h.afterLog != nil {
		h.afterLog()
	}
	// The series records are in the WAL now. Every series of a.toLog has a
	// sample in a.pending (Append adds to both or to neither), so the loop
	// below marks them logged under the lock it takes anyway, instead of a
	// second lock per new series (markLogged, which Rollback uses).
	id := h.iso.begin()
	low := h.iso.low.Load()
	var ce CommitError
	var stored, ooo, past uint64
	// lo and hi bound the samples stored in the head's range (past ones
	// are not: they must not widen what a head cut takes).
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	minValid := h.minValid.Load()
	// The batch in its type-clean parts (see cut): one part, all of it,
	// unless a series got a float after a histogram or changed histogram
	// kind. Each part's floats go first, then its histograms.
	f0, h0 := 0, 0
	for part := 0; part <= len(a.cuts); part++ {
		f1, h1 := len(a.pending), len(a.pendingH)
		if part < len(a.cuts) {
			f1, h1 = a.cuts[part].f, a.cuts[part].h
		}
		a.commitFloats(a.pending[f0:f1], a.walS[f0:f1], id, low, minValid, &ce, &stored, &ooo, &past, &lo, &hi)
		if h1 > h0 {
			a.commitHist(a.pendingH[h0:h1], id, low, minValid, &ce, &stored, &ooo, &past, &lo, &hi)
		}
		f0, h0 = f1, h1
	}
	h.iso.end(id)
	if past > 0 {
		h.pastCount.Add(past)
		h.hasPast.Store(true)
	}
	if len(a.pending)+len(a.pendingH) > 0 {
		if lo <= hi {
			h.updateRange(lo, hi)
		}
		h.samples.Add(stored)
		h.oooCount.Add(ooo)
		h.dropped.Add(uint64(ce.Refused()))
		a.db.maybeCompact()
	}
	if ce.Refused() > 0 {
		// floats and histograms are applied part by part: call order again
		slices.SortFunc(ce.Samples, func(x, y RefusedSample) int { return cmp.Compare(x.Index, y.Index) })
		return &ce
	}
	return nil
}

// commitFloats applies float samples of the batch (ps[i] with ws[i]). Its
// counts go to the caller's: locals in the loop, added once at the end.
func (a *headAppender) commitFloats(ps []pendingSample, ws []wal.RefSample, id, low uint64, minValid int64, ce *CommitError, storedP, oooP, pastP *uint64, loP, hiP *int64) {
	h := a.h
	var stored, ooo, past uint64
	lo, hi := *loP, *hiP
	ws = ws[:len(ps)]
	for i, p := range ps {
		s, w := p.s, &ws[i]
		s.mu.Lock()
		s.set(flagLogged)
		switch {
		case w.T < minValid && h.opts.OutOfOrderWindow > 0:
			// Older than the head's lower bound (at Append, or a head cut
			// took its range since): the past store.
			s.addPast(w.T, w.V)
			stored++
			ooo++
			past++
		case w.T < minValid:
			ce.refuse(p.seq, ErrOutOfBounds)
		case !p.ooo && (!s.is(flagHasMax) || w.T > s.maxT):
			lo, hi = min(lo, w.T), max(hi, w.T)
			if full, fmin, fmax := s.appendInOrder(w.T, w.V, h.opts.BlockRange, id, low, &a.slab); full != nil {
				h.writeFull(s, full, fmin, fmax)
			}
			stored++
		case s.is(flagHasMax) && w.T == s.maxT:
			// Another appender committed this timestamp first (or the
			// sample claimed it after another batch's claim): the same
			// sample is stored already; another value is refused.
			if s.is(flagLastHist) || math.Float64bits(w.V) != math.Float64bits(s.lastV) {
				ce.refuse(p.seq, ErrDuplicate)
			}
		case p.ooo || h.opts.OutOfOrderWindow > 0:
			// Accepted as out of order at Append, or became so because
			// another appender committed a newer sample first.
			s.addOOO(w.T, w.V)
			lo, hi = min(lo, w.T), max(hi, w.T)
			stored++
			ooo++
		default:
			// Another appender committed a newer sample between our
			// Append and Commit. The WAL has ours: replay applies records
			// in log order, so after a restart it may be the one kept.
			ce.refuse(p.seq, ErrOutOfOrder)
		}
		if s.is(flagHasPending) && s.pending <= w.T {
			s.clear(flagHasPending)
		}
		if p.ooo {
			s.unpin()
		}
		s.mu.Unlock()
	}
	*storedP, *oooP, *pastP = *storedP+stored, *oooP+ooo, *pastP+past
	*loP, *hiP = lo, hi
}

// commitHist applies histograms of the batch, after the floats of their
// part, as commitFloats applies those (same cases, same counts).
func (a *headAppender) commitHist(ps []pendingHist, id, low uint64, minValid int64, ce *CommitError, stored, ooo, past *uint64, lo, hi *int64) {
	h := a.h
	for _, p := range ps {
		s, t := p.s, p.hs.t
		s.mu.Lock()
		s.set(flagLogged)
		switch {
		case t < minValid && h.opts.OutOfOrderWindow > 0:
			s.addPastHist(p.hs)
			*stored, *ooo, *past = *stored+1, *ooo+1, *past+1
		case t < minValid:
			ce.refuse(p.seq, ErrOutOfBounds)
		case !p.ooo && (!s.is(flagHasMax) || t > s.maxT):
			*lo, *hi = min(*lo, t), max(*hi, t)
			if full, fmin, fmax := s.appendHistInOrder(p.hs, h.opts.BlockRange, id, low); full != nil {
				h.writeFull(s, full, fmin, fmax)
			}
			*stored++
		case s.is(flagHasMax) && t == s.maxT:
			if last := s.lastSample(); !sameSample(&last, &p.hs) {
				ce.refuse(p.seq, ErrDuplicate)
			}
		case p.ooo || h.opts.OutOfOrderWindow > 0:
			s.addOOOHist(p.hs)
			*lo, *hi = min(*lo, t), max(*hi, t)
			*stored, *ooo = *stored+1, *ooo+1
		default:
			ce.refuse(p.seq, ErrOutOfOrder)
		}
		if s.is(flagHasPending) && s.pending <= t {
			s.clear(flagHasPending)
		}
		if p.ooo {
			s.unpin()
		}
		s.mu.Unlock()
	}
}

// resetPending forgets the batch's claims on its series' timestamps.
func (a *headAppender) resetPending() {
	for i, p := range a.pending {
		p.s.mu.Lock()
		if p.s.is(flagHasPending) && p.s.pending <= a.walS[i].T {
			p.s.clear(flagHasPending)
		}
		if p.ooo {
			p.s.unpin()
		}
		p.s.mu.Unlock()
	}
	for _, p := range a.pendingH {
		p.s.mu.Lock()
		if p.s.is(flagHasPending) && p.s.pending <= p.hs.t {
			p.s.clear(flagHasPending)
		}
		if p.ooo {
			p.s.unpin()
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
	clear(a.pendingH)
	clear(a.walH)
	clear(a.walFH)
	a.pendingH, a.walH, a.walFH = a.pendingH[:0], a.walH[:0], a.walFH[:0]
	clear(a.histKinds)
	a.cuts = a.cuts[:0]
	clear(a.series)
	clear(a.toLog)
	clear(a.inLog)
	a.accepted = 0
	a.pending, a.walS, a.series, a.toLog = a.pending[:0], a.walS[:0], a.series[:0], a.toLog[:0]
	bufPool.Put(a.appendBufs)
	a.appendBufs = nil
}
