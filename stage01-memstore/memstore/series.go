package memstore

import (
	"slices"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
)

// pageBits sets the page size: 4,096 points, 64 KiB of columns. Pages bound the
// memory wasted by slice growth: a single slice grown by append reserves up to
// 25 % more than it holds (Go's growth factor for large slices), while pages
// waste at most one partly filled page per series.
const (
	pageBits = 12
	pageSize = 1 << pageBits
	pageMask = pageSize - 1
)

// minMerge is the smallest out-of-order buffer that triggers a merge on write.
// The threshold also grows with the series (len/8) so that merging, which
// rewrites the pages after the oldest buffered timestamp, costs O(1) amortised
// per late point instead of O(n).
const minMerge = 1024

// page holds up to pageSize points as two columns (struct of arrays): a time
// range scan touches only the timestamp column, and each column is a dense
// array the CPU can stream through.
type page struct {
	t []int64
	v []float64
}

// Series is one time series: its labels and its points sorted by timestamp.
// A *Series is a handle: keep it to append without hashing labels again.
// It is safe for concurrent use.
type Series struct {
	labels model.Labels

	mu sync.Mutex
	// pages are sorted and non-overlapping; every page but the last is full,
	// so point i lives at pages[i>>pageBits] offset i&pageMask, and one binary
	// search over 0..n-1 finds a timestamp across all pages.
	pages []page
	n     int
	// bufT/bufV hold out-of-order points in arrival order until the next merge.
	bufT []int64
	bufV []float64
}

// Labels returns the series' label set.
func (s *Series) Labels() model.Labels { return s.labels }

// Append adds a point. A timestamp newer than the last one is appended in
// O(1); the same timestamp as the last one replaces its value (last write
// wins); an older one goes to the out-of-order buffer, merged in later.
func (s *Series) Append(t int64, v float64) {
	s.mu.Lock()
	s.append(t, v)
	s.mu.Unlock()
}

func (s *Series) append(t int64, v float64) {
	if s.n > 0 {
		last := &s.pages[len(s.pages)-1]
		lt := last.t[len(last.t)-1]
		if t == lt {
			last.v[len(last.v)-1] = v
			return
		}
		if t < lt {
			s.bufT = append(s.bufT, t)
			s.bufV = append(s.bufV, v)
			if len(s.bufT) >= max(minMerge, s.n>>3) {
				s.merge()
			}
			return
		}
	}
	s.push(t, v)
}

// push appends a point known to be newer than every stored point.
func (s *Series) push(t int64, v float64) {
	if len(s.pages) == 0 || len(s.pages[len(s.pages)-1].t) == pageSize {
		// Every page starts small and doubles up to pageSize, so a million
		// tiny series stay cheap and the open page of a big one wastes at
		// most half its size. The copies cost O(1) amortised per point.
		s.pages = append(s.pages, page{t: make([]int64, 0, 8), v: make([]float64, 0, 8)})
	}
	p := &s.pages[len(s.pages)-1]
	if len(p.t) == cap(p.t) {
		c := min(2*cap(p.t), pageSize)
		p.t = append(make([]int64, 0, c), p.t...)
		p.v = append(make([]float64, 0, c), p.v...)
	}
	p.t = append(p.t, t)
	p.v = append(p.v, v)
	s.n++
}

// at returns the timestamp of point i.
func (s *Series) at(i int) int64 { return s.pages[i>>pageBits].t[i&pageMask] }

// search returns the index of the first point with timestamp >= t (n if none).
func (s *Series) search(t int64) int {
	lo, hi := 0, s.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.at(m) < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// merge folds the out-of-order buffer into the pages. Only the pages from
// the one holding the oldest buffered timestamp onwards are rewritten: late
// data is usually only a little late, so this is a short tail.
func (s *Series) merge() {
	if len(s.bufT) == 0 {
		return
	}
	type point struct {
		t int64
		v float64
	}
	buf := make([]point, len(s.bufT))
	for i := range buf {
		buf[i] = point{s.bufT[i], s.bufV[i]}
	}
	// Stable, so that among equal timestamps arrival order is kept and the
	// last write can win below.
	slices.SortStableFunc(buf, func(a, b point) int {
		switch {
		case a.t < b.t:
			return -1
		case a.t > b.t:
			return 1
		}
		return 0
	})
	// Drop the buffer rather than keep its capacity: late points are rare for
	// most series, and a kept buffer would cost every series its peak.
	s.bufT, s.bufV = nil, nil

	first := s.search(buf[0].t) &^ pageMask // rewrite from the start of that page
	old := s.pages[first>>pageBits:]
	s.pages = s.pages[: first>>pageBits : first>>pageBits] // cap forces fresh page arrays
	s.n = first

	// Two-way merge of the old tail and the sorted buffer. Buffered points are
	// newer writes than anything already in the pages, so on a tie they win,
	// and among buffered duplicates the last one wins.
	pi, oi := 0, 0
	oldAt := func() (int64, float64, bool) {
		if pi == len(old) {
			return 0, 0, false
		}
		return old[pi].t[oi], old[pi].v[oi], true
	}
	oldNext := func() {
		if oi++; oi == len(old[pi].t) {
			pi, oi = pi+1, 0
		}
	}
	b := 0
	for {
		ot, ov, ok := oldAt()
		if b == len(buf) && !ok {
			break
		}
		if b < len(buf) && (!ok || buf[b].t <= ot) {
			t := buf[b].t
			for b+1 < len(buf) && buf[b+1].t == t {
				b++
			}
			if ok && ot == t {
				oldNext()
			}
			s.push(t, buf[b].v)
			b++
			continue
		}
		s.push(ot, ov)
		oldNext()
	}
}

// Range appends to dst the points with mint <= t <= maxt (both inclusive), in
// time order, and returns the extended slice. Two binary searches find the
// bounds, so the cost is O(log n + points returned).
func (s *Series) Range(mint, maxt int64, dst []model.Sample) []model.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.merge()
	if mint > maxt {
		return dst
	}
	i := s.search(mint)
	for i < s.n {
		p := &s.pages[i>>pageBits]
		for j := i & pageMask; j < len(p.t); j++ {
			if p.t[j] > maxt {
				return dst
			}
			dst = append(dst, model.Sample{T: p.t[j], V: p.v[j]})
		}
		i = (i | pageMask) + 1
	}
	return dst
}

// Len is the number of points, counting those not yet merged. A point that
// will replace another at the same timestamp on merge is counted until then.
func (s *Series) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n + len(s.bufT)
}

// columnBytes is the memory reserved by the columns and the buffer;
// pageSlots is the capacity of the page table. Both are read under the
// series' lock: a merge replaces the page table.
func (s *Series) columnBytes() (b, pageSlots int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b = 8 * (cap(s.bufT) + cap(s.bufV))
	for _, p := range s.pages {
		b += 8 * (cap(p.t) + cap(p.v))
	}
	return b, cap(s.pages)
}
