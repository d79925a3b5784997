package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// ErrInvalidSeries: a series' labels could not be built (no metric name,
// empty or repeated label names…).
var ErrInvalidSeries = errors.New("storage: invalid series")

// WriteResult counts the samples of one write request.
type WriteResult struct {
	Accepted    int // stored (an identical duplicate of a stored sample counts here: it is stored)
	OutOfOrder  int
	Duplicate   int   // same timestamp as a stored sample, another value
	OutOfBounds int   // in a range already cut to a block
	TooOld      int   // older than the retention
	TooNew      int   // further in the future than the grace
	Invalid     int   // samples of series whose labels were invalid
	FirstError  error // the first refusal, for the message
	Commit      time.Duration
}

// Rejected is the number of samples refused.
func (r *WriteResult) Rejected() int {
	return r.OutOfOrder + r.Duplicate + r.OutOfBounds + r.TooOld + r.TooNew + r.Invalid
}

// Summary says how many samples were refused and why, for a 400 answer.
func (r *WriteResult) Summary() string {
	return fmt.Sprintf("%d of %d samples rejected (out of order: %d, duplicate: %d, out of bounds: %d, too old: %d, too new: %d, invalid series: %d); first: %v",
		r.Rejected(), r.Rejected()+r.Accepted, r.OutOfOrder, r.Duplicate, r.OutOfBounds, r.TooOld, r.TooNew, r.Invalid, r.FirstError)
}

// Batch appends one request's samples through one appender, resolving
// series by cached ref; refused samples are counted and skipped, so the
// valid ones of the same request are kept. Commit (or Rollback) ends it.
type Batch struct {
	app   tsdb.Appender
	cache *RefCache
	Res   WriteResult
	last  error // the latest refusal
}

// LastRefusal is the error of the latest refused sample, nil if none was.
func (b *Batch) LastRefusal() error { return b.last }

// NewBatch starts a batch on a.
func NewBatch(ctx context.Context, a Appendable, cache *RefCache) *Batch {
	return &Batch{app: a.Appender(ctx), cache: cache}
}

// Add appends samples to the series known by key (cached) or else by the
// labels that labels() builds. An error is returned only for a failure that
// should abort the request (the appender is closed); refusals are counted.
func (b *Batch) Add(key []byte, labels func() (model.Labels, error), samples []model.Sample) error {
	return b.each(key, labels, len(samples), func(i int, ref uint64, lset model.Labels) (uint64, error) {
		return b.app.Append(ref, lset, samples[i].T, samples[i].V)
	})
}

// AddHistograms is Add for native histogram samples (each with exactly
// one of H and FH set, as remote write decodes them).
func (b *Batch) AddHistograms(key []byte, labels func() (model.Labels, error), hs []remote.HistogramSample) error {
	return b.each(key, labels, len(hs), func(i int, ref uint64, lset model.Labels) (uint64, error) {
		return b.app.AppendHistogram(ref, lset, hs[i].T, hs[i].H, hs[i].FH)
	})
}

// each appends n samples of one series through app, which appends the
// i-th to the series ref (or, when ref is unknown, lset): the series is
// resolved from the cache by key, its labels built only if the storage
// does not know the ref.
func (b *Batch) each(key []byte, labels func() (model.Labels, error), n int, app func(i int, ref uint64, lset model.Labels) (uint64, error)) error {
	if n == 0 {
		return nil
	}
	ref := uint64(0)
	if b.cache != nil && key != nil {
		ref = b.cache.Get(key)
	}
	var lset model.Labels
	built := false
	for i := range n {
		r, err := app(i, ref, lset)
		if errors.Is(err, tsdb.ErrUnknownRef) && !built {
			var lerr error
			if lset, lerr = labels(); lerr != nil {
				b.refuse(fmt.Errorf("%w: %v", ErrInvalidSeries, lerr), n-i)
				return nil
			}
			built = true
			r, err = app(i, 0, lset)
		}
		if r != 0 && r != ref {
			ref = r
			if b.cache != nil && key != nil {
				b.cache.Set(key, r)
			}
		}
		if err != nil {
			if errors.Is(err, tsdb.ErrClosed) {
				return err
			}
			b.refuse(err, 1)
			continue
		}
		b.Res.Accepted++
	}
	return nil
}

func (b *Batch) refuse(err error, n int) {
	switch {
	case errors.Is(err, tsdb.ErrOutOfOrder):
		b.Res.OutOfOrder += n
	case errors.Is(err, tsdb.ErrDuplicate):
		b.Res.Duplicate += n
	case errors.Is(err, tsdb.ErrOutOfBounds):
		b.Res.OutOfBounds += n
	case errors.Is(err, tsdb.ErrTooOld):
		b.Res.TooOld += n
	case errors.Is(err, tsdb.ErrTooNew):
		b.Res.TooNew += n
	default:
		b.Res.Invalid += n
	}
	if b.Res.FirstError == nil {
		b.Res.FirstError = err
	}
	b.last = err
}

// Commit makes the accepted samples durable (WAL) and visible. Samples the
// storage refused at commit (their series changed meanwhile:
// *tsdb.CommitError) move from Accepted to the refusals, and the rest is
// stored: that is not an error. Any other error means nothing was stored.
func (b *Batch) Commit() error {
	start := time.Now()
	err := b.app.Commit()
	b.Res.Commit = time.Since(start)
	var ce *tsdb.CommitError
	if !errors.As(err, &ce) {
		return err
	}
	b.Res.Accepted -= ce.Refused()
	b.Res.OutOfBounds += ce.OutOfBounds
	b.Res.Duplicate += ce.Duplicate
	b.Res.OutOfOrder += ce.OutOfOrder
	if b.Res.FirstError == nil {
		b.Res.FirstError = err
	}
	b.last = err
	return nil
}

// Rollback discards the batch.
func (b *Batch) Rollback() error { return b.app.Rollback() }
