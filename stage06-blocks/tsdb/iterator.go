package tsdb

import (
	"math"
	"sort"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// Iterator walks a series' samples in time order. The contract is
// Prometheus's: call Next (or SeekTo) before At; once either returned false
// the iterator is done and Err says whether it stopped on an error.
type Iterator interface {
	Next() bool
	// SeekTo advances to the first sample at or after t; it never moves
	// backwards.
	SeekTo(t int64) bool
	At() (int64, float64)
	Err() error
}

// newSeriesIterator returns an iterator over the samples of srcs in
// [mint, maxt], without deleted samples or samples hidden by isolation.
// srcs must be sorted by minT. Chunks that do not overlap are read one
// after the other (the common case: one source, or blocks side by side);
// overlapping ones (out-of-order chunks, overlapping blocks, a block and
// the head just after a cut) are merged, and of samples with the same
// timestamp the first in srcs order wins, in-order before out-of-order.
func newSeriesIterator(srcs []chunkSrc, mint, maxt int64, count *atomic.Int64) Iterator {
	hi := int64(math.MinInt64)
	overlap := false
	for _, c := range srcs {
		if c.ooo() || c.minT <= hi {
			overlap = true
			break
		}
		hi = c.maxT
	}
	if !overlap {
		if hasHist(srcs) {
			return newMixedIterator(srcs, mint, maxt, count)
		}
		return &listIterator{srcs: srcs, mint: mint, maxt: maxt, count: count}
	}
	if hasHist(srcs) {
		return newMixedIterator(srcs, mint, maxt, count)
	}
	return mergeSamples(srcs, mint, maxt, count)
}

// listIterator reads non-overlapping chunks in order.
type listIterator struct {
	srcs       []chunkSrc
	next       int
	in         bool
	it         floatChunkIterator
	mint, maxt int64
	hi         int64 // min(maxt, current chunk's capT)
	cur        *chunkSrc
	t          int64
	v          float64
	err        error
	count      *atomic.Int64
	n          int64
}

func (l *listIterator) Next() bool {
	for {
		if !l.in {
			if l.next >= len(l.srcs) || l.err != nil {
				l.finish()
				return false
			}
			l.cur = &l.srcs[l.next]
			l.next++
			b, err := l.cur.queryBytes()
			if err != nil {
				l.err = err
				continue
			}
			l.it.Reset(b)
			l.hi = min(l.maxt, l.cur.capT())
			l.in = true
		}
		if !l.it.Next() {
			if err := l.it.Err(); err != nil {
				l.err = err
			}
			l.in = false
			continue
		}
		t, v := l.it.At()
		if t < l.mint {
			continue
		}
		if t > l.hi {
			l.in = false
			continue
		}
		if st := l.cur.stones(); len(st) > 0 && st.Contains(t) {
			continue
		}
		l.t, l.v = t, v
		l.n++
		return true
	}
}

func (l *listIterator) finish() {
	if l.count != nil && l.n > 0 {
		l.count.Add(l.n)
		l.n = 0
	}
}

func (l *listIterator) SeekTo(t int64) bool {
	if l.in && l.t >= t {
		return true
	}
	if t > l.mint {
		l.mint = t
	}
	// Skip whole chunks that end before t.
	if !l.in {
		for l.next < len(l.srcs) && l.srcs[l.next].maxT < t {
			l.next++
		}
	}
	return l.Next()
}

func (l *listIterator) At() (int64, float64) { return l.t, l.v }
func (l *listIterator) Err() error           { return l.err }

// The float iterators are HistogramIterators whose every sample is a
// float.
func (l *listIterator) Type() ValueType {
	if l.in {
		return ValFloat
	}
	return ValNone
}
func (l *listIterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return l.t, nil
}
func (l *listIterator) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return l.t, nil
}

// sliceIterator iterates decoded samples.
type sliceIterator struct {
	ss  []model.Sample
	i   int
	err error
	// job: the buffer belongs to a read-ahead job, which takes it back
	// when every iterator over it has been passed in for reuse.
	job *raJob
}

func (s *sliceIterator) Next() bool {
	if s.i+1 >= len(s.ss) {
		s.i = len(s.ss)
		return false
	}
	s.i++
	return true
}

func (s *sliceIterator) SeekTo(t int64) bool {
	if s.i < 0 {
		s.i = 0
	}
	if s.i < len(s.ss) && s.ss[s.i].T >= t {
		return true
	}
	j := sort.Search(len(s.ss)-s.i, func(k int) bool { return s.ss[s.i+k].T >= t })
	s.i += j
	return s.i < len(s.ss)
}

func (s *sliceIterator) At() (int64, float64) { return s.ss[s.i].T, s.ss[s.i].V }
func (s *sliceIterator) Err() error           { return s.err }

func (s *sliceIterator) Type() ValueType {
	if s.i < 0 || s.i >= len(s.ss) {
		return ValNone
	}
	return ValFloat
}
func (s *sliceIterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return s.ss[s.i].T, nil
}
func (s *sliceIterator) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return s.ss[s.i].T, nil
}

// Samples returns the samples Next has not returned yet, in order, without
// copying: a reader that wants them all (a query engine sliding windows)
// reads the slice instead of calling Next and At per sample. It must not
// modify them, and they stay valid only until the iterator is passed to
// Series.Iterator for reuse.
func (s *sliceIterator) Samples() []model.Sample { return s.ss[min(s.i+1, len(s.ss)):] }

// mergeSamples decodes overlapping chunks and merges them into one sorted,
// deduplicated run.
func mergeSamples(srcs []chunkSrc, mint, maxt int64, count *atomic.Int64) Iterator {
	type sample struct {
		t    int64
		v    float64
		prio int
	}
	var all []sample
	var err error
	for i := range srcs {
		prio := i
		if srcs[i].ooo() {
			prio += len(srcs)
		}
		one := &listIterator{srcs: srcs[i : i+1], mint: mint, maxt: maxt}
		for one.Next() {
			all = append(all, sample{one.t, one.v, prio})
		}
		if one.err != nil && err == nil {
			err = one.err
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].t != all[j].t {
			return all[i].t < all[j].t
		}
		return all[i].prio < all[j].prio
	})
	it := &sliceIterator{i: -1, err: err}
	for i, s := range all {
		if i > 0 && s.t == all[i-1].t {
			continue
		}
		it.ss = append(it.ss, model.Sample{T: s.t, V: s.v})
	}
	if count != nil {
		count.Add(int64(len(it.ss)))
	}
	return it
}
