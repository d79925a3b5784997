package tsdb

import (
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"
)

// SeriesAppender is an Appender that also resolves many series at once.
// The appenders of DB.Appender are SeriesAppenders:
//
//	sa := db.Appender(ctx).(tsdb.SeriesAppender)
//	err := sa.SeriesRefs(lsets, refs, errs) // then sa.Append(refs[i], model.Labels{}, t, v)
//
// A writer that meets many new series at once (an ingestion batch after a
// server starts, a scrape of a new target, a cluster node taking over
// series) creates them in one call instead of one Append each: one hold of
// the head's creation lock for all of them, one request in its queue, and
// their series records in the batch's one WAL series record at Commit.
type SeriesAppender interface {
	Appender
	// SeriesRefs sets refs[i] to the ref of the series lsets[i] names,
	// creating the series that do not exist yet (refs as long as lsets).
	// A series refused (Options.AdmitSeries, an invalid or empty label
	// set) gets ref 0 and its error in errs[i] when errs is not nil (as
	// long as lsets); SeriesRefs returns the first refusal, or ErrClosed.
	// The refs are for Append by ref within this appender's batch and
	// after: the new series' records are logged with the batch at Commit
	// (or Rollback), before any sample of theirs, as when Append creates
	// a series.
	SeriesRefs(lsets []model.Labels, refs []uint64, errs []error) error
}

func (a *headAppender) SeriesRefs(lsets []model.Labels, refs []uint64, errs []error) error {
	if a.done {
		return ErrClosed
	}
	n := len(lsets)
	if len(refs) != n || errs != nil && len(errs) != n {
		return fmt.Errorf("tsdb: series refs: %d label sets, %d refs and %d errors", n, len(refs), len(errs))
	}
	if errs == nil {
		errs = make([]error, n)
	}
	out, created := make([]*memSeries, n), make([]bool, n)
	a.h.getOrCreateMany(lsets, out, created, errs)
	if a.inLog == nil {
		// Sized once for the series created: logSeries would grow it
		// step by step, rehashing as it goes.
		n := 0
		for _, c := range created {
			if c {
				n++
			}
		}
		a.inLog = make(map[*memSeries]struct{}, n)
	}
	var first error
	for i, s := range out {
		if errs[i] != nil {
			refs[i] = 0
			if first == nil {
				first = errs[i]
			}
			continue
		}
		refs[i] = s.ref
		if created[i] {
			// New, so not in the WAL, and its label set is at
			// hand: its record goes into this batch (logSeries)
			// without the labels read back from the index. A
			// series found unlogged (another appender's, not
			// committed yet) is logged by Append, as ever.
			a.logSeries(s, lsets[i])
		}
	}
	return first
}
