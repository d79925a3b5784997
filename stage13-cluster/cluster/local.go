package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// appendLocal stores series in a node's own DB in one commit. A sample the
// DB already holds (a replica written twice: a retried write, a hint
// replayed after the write had in fact landed, healing streaming what a
// node already has) is accepted and stored once, which is what makes
// every node-to-node write idempotent.
func appendLocal(db *tsdb.DB, series []remote.Series) (int, error) {
	a := localAppend{app: db.Appender(context.Background())}
	for _, s := range series {
		a.add(0, s.Labels, nil, s.Samples, s.Histograms)
	}
	return a.commit()
}

// localAppend is one commit of appendLocal, fed series by series.
type localAppend struct {
	app     tsdb.Appender
	n       int
	refused error // the first sample refused
}

// add appends a series' floats and histograms merged in time order (at
// equal times the float first): appended kind by kind, a series whose
// histograms are older than its floats (a metric changed from one kind to
// the other) would have its older kind refused as out of order by a
// storage that refuses those, and never be handed over by a heal or a
// hint replay.
//
// The series is named by lset, or by ref, the DB's ref of the series from
// an earlier write, with labels building its label set only if the DB no
// longer knows the ref (a series dropped by a head truncation): a series
// written again is then appended without its labels being built, hashed
// and looked up. add returns the series' ref (0 if nothing was appended).
func (a *localAppend) add(ref uint64, lset model.Labels, labels func() (model.Labels, error), samples []model.Sample, hs []remote.HistogramSample) uint64 {
	// unknown reports whether err is a stale ref and, if so, names the
	// series by its labels from then on.
	unknown := func(err error) bool {
		if ref == 0 || labels == nil || !errors.Is(err, tsdb.ErrUnknownRef) {
			return false
		}
		l, lerr := labels()
		if lerr != nil {
			return false
		}
		ref, lset, labels = 0, l, nil
		return true
	}
	// name is the series for an error message.
	name := func() model.Labels {
		if ref != 0 && labels != nil {
			if l, err := labels(); err == nil {
				return l
			}
		}
		return lset
	}
	i, j := 0, 0
	for i < len(samples) || j < len(hs) {
		if j == len(hs) || i < len(samples) && samples[i].T <= hs[j].T {
			p := samples[i]
			r, err := a.app.Append(ref, lset, p.T, p.V)
			if err != nil && unknown(err) {
				continue // the same sample again, by labels
			}
			i++
			if err != nil {
				if a.refused == nil {
					a.refused = fmt.Errorf("series %s at %d: %w", name(), p.T, err)
				}
				continue
			}
			ref = r
			a.n++
			continue
		}
		h := hs[j]
		r, err := a.app.AppendHistogram(ref, lset, h.T, h.H, h.FH)
		if err != nil && unknown(err) {
			continue
		}
		j++
		if err != nil {
			if a.refused == nil {
				a.refused = fmt.Errorf("series %s histogram at %d: %w", name(), h.T, err)
			}
			continue
		}
		ref = r
		a.n++
	}
	return ref
}

// errSamplesRefused marks a commit that stored what it could but whose
// storage refused some samples (out of bounds, too old, a conflicting
// duplicate): the sender's request, not the node, is at fault.
var errSamplesRefused = errors.New("cluster: some samples refused")

func (a *localAppend) commit() (int, error) {
	err := a.app.Commit()
	var ce *tsdb.CommitError
	switch {
	case errors.As(err, &ce):
		// stored but for samples that became unstorable meanwhile (their
		// range cut to a block, another writer's sample at their time):
		// refused as those at Append are
		a.n -= ce.Refused()
		if a.refused == nil {
			a.refused = err
		} else {
			a.refused = fmt.Errorf("%w; %w", a.refused, err)
		}
	case err != nil:
		return 0, fmt.Errorf("cluster: commit: %w", err)
	}
	if a.refused != nil {
		return a.n, fmt.Errorf("%w: %w", errSamplesRefused, a.refused)
	}
	return a.n, nil
}

// fromWire copies a decoded remote-write series, floats and native
// histograms (the decoder's slices are reused; the histograms it points to
// are not).
func fromWire(ts *remote.TimeSeries) (remote.Series, error) {
	lset, err := ts.ModelLabels()
	if err != nil {
		return remote.Series{}, err
	}
	return remote.Series{Labels: lset, Samples: slices.Clone(ts.Samples), Histograms: slices.Clone(ts.Histograms)}, nil
}

// readLocal reads the series of a node's own DB that match ms in [mint,
// maxt], samples in time order; series without a sample in the range are
// left out (a healed-away series has only tombstoned samples).
func readLocal(db *tsdb.DB, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, int64, error) {
	q, err := db.Querier(mint, maxt)
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: querier: %w", err)
	}
	defer q.Close()
	var out []remote.Series
	var samples int64
	ss := q.Select(ms...)
	var it tsdb.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		pts, hs, err := remote.AppendIterated(nil, nil, it)
		if err != nil {
			return nil, 0, fmt.Errorf("cluster: read %s: %w", s.Labels(), err)
		}
		if len(pts)+len(hs) > 0 {
			out = append(out, remote.Series{Labels: s.Labels(), Samples: pts, Histograms: hs})
			samples += int64(len(pts) + len(hs))
		}
	}
	if err := ss.Err(); err != nil {
		return nil, 0, fmt.Errorf("cluster: select: %w", err)
	}
	return out, samples, nil
}

// mergeHistograms merges time-sorted histogram sample lists into one, a
// timestamp that appears in several (a replicated sample) once, as
// mergeSamples does for floats.
func mergeHistograms(lists ...[]remote.HistogramSample) []remote.HistogramSample {
	var all []remote.HistogramSample
	for _, l := range lists {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortStableFunc(all, func(a, b remote.HistogramSample) int { return cmpInt(a.T, b.T) })
	return slices.CompactFunc(all, func(a, b remote.HistogramSample) bool { return a.T == b.T })
}

// mergeSamples merges time-sorted sample lists into one, a timestamp that
// appears in several (a replicated sample) once.
func mergeSamples(lists ...[]model.Sample) []model.Sample {
	var all []model.Sample
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b model.Sample) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(all, func(a, b model.Sample) bool { return a.T == b.T })
}
