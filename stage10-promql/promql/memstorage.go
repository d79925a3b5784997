package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage05-index/index"
)

// ErrOutOfOrder is returned by MemStorage.Append for a sample not newer than
// the series' last one.
var ErrOutOfOrder = errors.New("promql: out-of-order sample")

// MemStorage is a Storage that keeps every sample in memory: the test
// scripts, the REPL's demo data and the benchmarks load into it. It is safe
// for concurrent use; Append and Select may run at the same time.
type MemStorage struct {
	mu     sync.RWMutex
	byHash map[uint64][]*memSeries
	sorted []*memSeries // by label set; nil when a series was added since
}

type memSeries struct {
	labels  model.Labels
	samples []model.Sample
	sts     []int64  // each sample's start time, 0 unknown; nil while none is known
	hists   []HPoint // native histogram samples, at times of their own
	hsts    []int64  // each histogram's start time, 0 unknown; nil while none is known
}

// last is the time of the series' latest sample of either kind.
func (ms *memSeries) last() (int64, bool) {
	t, ok := int64(math.MinInt64), false
	if n := len(ms.samples); n > 0 {
		t, ok = ms.samples[n-1].T, true
	}
	if n := len(ms.hists); n > 0 && ms.hists[n-1].T > t {
		t, ok = ms.hists[n-1].T, true
	}
	return t, ok
}

// NewMemStorage returns an empty store.
func NewMemStorage() *MemStorage {
	return &MemStorage{byHash: map[uint64][]*memSeries{}}
}

// Append adds a sample; timestamps of a series must increase.
func (s *MemStorage) Append(l model.Labels, t int64, v float64) error {
	return s.AppendWithStart(l, t, v, 0)
}

// AppendWithStart adds a sample with its start time st (ms; 0 unknown):
// when the counter it belongs to (re)started, as OpenTelemetry and
// Prometheus's created timestamps report it. With the use-start-timestamps
// feature, rate, increase, irate and resets read a later start time as a
// reset even where the value did not fall.
func (s *MemStorage) AppendWithStart(l model.Labels, t int64, v float64, st int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.get(l)
	if last, ok := ms.last(); ok && last >= t {
		return fmt.Errorf("%w: %s at %d, last %d", ErrOutOfOrder, l, t, last)
	}
	if st != 0 && ms.sts == nil {
		ms.sts = make([]int64, len(ms.samples), cap(ms.samples))
	}
	ms.samples = append(ms.samples, model.Sample{T: t, V: v})
	if ms.sts != nil {
		ms.sts = append(ms.sts, st)
	}
	return nil
}

// AppendHistogram adds a native histogram sample (kept as is: the
// caller must not change h afterwards). A series may hold floats and
// histograms, at different times; timestamps of a series increase
// across both kinds.
func (s *MemStorage) AppendHistogram(l model.Labels, t int64, h *histogram.FloatHistogram) error {
	return s.AppendHistogramWithStart(l, t, h, 0)
}

// AppendHistogramWithStart is AppendHistogram with the histogram's start
// time st (ms; 0 unknown), as AppendWithStart is Append's.
func (s *MemStorage) AppendHistogramWithStart(l model.Labels, t int64, h *histogram.FloatHistogram, st int64) error {
	if h == nil {
		return fmt.Errorf("promql: nil histogram for %s at %d", l, t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.get(l)
	if last, ok := ms.last(); ok && last >= t {
		return fmt.Errorf("%w: %s at %d, last %d", ErrOutOfOrder, l, t, last)
	}
	if st != 0 && ms.hsts == nil {
		ms.hsts = make([]int64, len(ms.hists), cap(ms.hists))
	}
	ms.hists = append(ms.hists, HPoint{T: t, H: h})
	if ms.hsts != nil {
		ms.hsts = append(ms.hsts, st)
	}
	return nil
}

func (s *MemStorage) get(l model.Labels) *memSeries {
	h := l.Hash()
	for _, ms := range s.byHash[h] {
		if ms.labels.Equal(l) {
			return ms
		}
	}
	ms := &memSeries{labels: l}
	s.byHash[h] = append(s.byHash[h], ms)
	s.sorted = nil
	return ms
}

// Clear drops every series (the test scripts' "clear").
func (s *MemStorage) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byHash = map[uint64][]*memSeries{}
	s.sorted = nil
}

// Stats returns the number of series and samples held.
func (s *MemStorage) Stats() (series, samples int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, l := range s.byHash {
		for _, ms := range l {
			series++
			samples += len(ms.samples) + len(ms.hists)
		}
	}
	return series, samples
}

// Select scans every series; a real index (stage05) answers from postings,
// but a scan is the obviously-correct oracle the tests want here.
//
// Selects share a read lock, so they run in parallel with each other; only
// the first Select after a new series sorts the series list, under the
// write lock.
func (s *MemStorage) Select(ctx context.Context, mint, maxt int64, matchers ...*index.Matcher) SeriesSet {
	s.mu.RLock()
	all := s.sorted
	if all == nil {
		s.mu.RUnlock()
		all = s.sortSeries()
		s.mu.RLock()
		// A series appended in between is not in all: this Select then
		// reads as if it came just before that Append.
	}
	var out []memSet
	var sts map[int][]int64    // the start times of the series in out that have them
	var hists map[int][]HPoint // the histograms of the series in out that have them
	var hsts map[int][]int64   // their start times, where known
	for _, ms := range all {
		ok := true
		for _, m := range matchers {
			if !m.Matches(ms.labels.Get(m.Name())) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		// Copy the slice header under the lock: later appends may move the
		// backing array but never change the samples this view covers.
		smp := ms.samples
		lo, _ := slices.BinarySearchFunc(smp, mint, func(x model.Sample, t int64) int { return cmpInt(x.T, t) })
		hi, found := slices.BinarySearchFunc(smp, maxt, func(x model.Sample, t int64) int { return cmpInt(x.T, t) })
		if found {
			hi++
		}
		var hs []HPoint
		var hst []int64
		if len(ms.hists) > 0 {
			hlo, _ := slices.BinarySearchFunc(ms.hists, mint, func(x HPoint, t int64) int { return cmpInt(x.T, t) })
			hhi, found := slices.BinarySearchFunc(ms.hists, maxt, func(x HPoint, t int64) int { return cmpInt(x.T, t) })
			if found {
				hhi++
			}
			hs = ms.hists[hlo:hhi:hhi]
			if ms.hsts != nil {
				hst = ms.hsts[hlo:hhi:hhi]
			}
		}
		if lo < hi || len(hs) > 0 {
			out = append(out, memSet{labels: ms.labels, samples: smp[lo:hi:hi]})
			if ms.sts != nil {
				if sts == nil {
					sts = map[int][]int64{}
				}
				sts[len(out)-1] = ms.sts[lo:hi:hi]
			}
			if len(hs) > 0 {
				if hists == nil {
					hists = map[int][]HPoint{}
				}
				hists[len(out)-1] = hs
				if hst != nil {
					if hsts == nil {
						hsts = map[int][]int64{}
					}
					hsts[len(out)-1] = hst
				}
			}
		}
	}
	s.mu.RUnlock()
	return &memSeriesSet{list: out, sts: sts, hists: hists, hsts: hsts, i: -1, ctx: ctx}
}

// sortSeries returns the series sorted by label set, sorting them if no
// one has since the last new series. The slice is never changed once
// built (a new series replaces it), so readers may keep it.
func (s *MemStorage) sortSeries() []*memSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sorted == nil {
		sorted := make([]*memSeries, 0, len(s.byHash))
		for _, l := range s.byHash {
			sorted = append(sorted, l...)
		}
		slices.SortFunc(sorted, func(a, b *memSeries) int { return a.labels.Compare(b.labels) })
		s.sorted = sorted
	}
	return s.sorted
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type memSet struct {
	labels  model.Labels
	samples []model.Sample
}

func (m memSet) Labels() model.Labels { return m.labels }
func (m memSet) Iterator() Iterator   { return &sliceIterator{s: m.samples, i: -1} }

// Samples exposes the selected slice directly; the engine uses it to skip
// the per-sample iterator calls (an optional fast path, see loadSeries).
func (m memSet) Samples() []model.Sample { return m.samples }

// memSetST is a memSet whose samples have start times (startTimestamper).
// A type of its own keeps memSet, of which a Select makes one per series,
// as small as before start times.
type memSetST struct {
	memSet
	sts []int64
}

// StartTimestamps are the samples' start times, 0 where unknown.
func (m memSetST) StartTimestamps() []int64 { return m.sts }

// memSetH is a memSet with native histogram samples (HistogramSeries),
// and the start times of its floats if it has any.
type memSetH struct {
	memSet
	sts   []int64
	hists []HPoint
	hsts  []int64
}

func (m memSetH) StartTimestamps() []int64          { return m.sts }
func (m memSetH) HistogramSamples() []HPoint        { return m.hists }
func (m memSetH) HistogramStartTimestamps() []int64 { return m.hsts }

type memSeriesSet struct {
	list  []memSet
	sts   map[int][]int64  // by index in list, for the series that have start times
	hists map[int][]HPoint // by index in list, for the series that have histograms
	hsts  map[int][]int64  // their start times
	i     int
	ctx   context.Context
}

func (s *memSeriesSet) Next() bool {
	if s.ctx.Err() != nil {
		return false
	}
	s.i++
	return s.i < len(s.list)
}

func (s *memSeriesSet) At() StorageSeries {
	if hs, ok := s.hists[s.i]; ok {
		return memSetH{memSet: s.list[s.i], sts: s.sts[s.i], hists: hs, hsts: s.hsts[s.i]}
	}
	if st, ok := s.sts[s.i]; ok {
		return memSetST{s.list[s.i], st}
	}
	return s.list[s.i]
}

func (s *memSeriesSet) Err() error { return s.ctx.Err() }

type sliceIterator struct {
	s []model.Sample
	i int
}

func (it *sliceIterator) Next() bool { it.i++; return it.i < len(it.s) }
func (it *sliceIterator) At() (int64, float64) {
	return it.s[it.i].T, it.s[it.i].V
}
func (it *sliceIterator) Err() error { return nil }
