package rollup

import (
	"errors"
	"fmt"
	"math"
)

// Sketch defaults: 1 % relative accuracy, at most 512 bins. At α = 1 %
// consecutive bins differ by γ = 1.0202, so 512 bins cover values spanning
// a factor of γ^512 ≈ 28,000 at full accuracy; the encoding of 512 bins
// whose counts are below 2^21 is at most 25 + 512×3 = 1,561 bytes.
const (
	DefaultAlpha   = 0.01
	DefaultMaxBins = 512
)

// minIndexable: |v| below this is counted as zero (the zero bucket), so the
// bin index never underflows.
const minIndexable = 1e-9

// Errors of the sketch.
var (
	// ErrIncompatible: merging sketches of different accuracy or bin limit.
	ErrIncompatible = errors.New("rollup: sketches have different accuracy")
	// ErrCorrupt: an encoded sketch (or sketch file) that does not decode.
	ErrCorrupt = errors.New("rollup: corrupt encoding")
)

// Sketch is a DDSketch (Masson, Rim, Lee, VLDB 2019): a quantile sketch with
// a relative-error guarantee. A value v > 0 falls into bin
// k = ⌈log_γ v⌉, which covers (γ^(k−1), γ^k], with γ = (1+α)/(1−α); the
// estimate of every value in the bin is 2γ^k/(γ+1), within α of each of
// them. Negative values go into a second set of bins by |v|, values near
// zero into a zero count. A quantile is the estimate of the bin holding the
// value of that rank, so it is within α of the exact quantile
// (sorted[⌊q·(n−1)⌋]) whatever the distribution.
//
// Two sketches with the same α merge by adding their bin counts: the result
// is the sketch of the union, which is what makes per-window sketches
// roll up into hours and days. When the bins outnumber MaxBins the lowest
// ones — those of the smallest magnitudes, in the larger of the two sets —
// are folded into one: the size stays bounded and the guarantee holds for
// every value of a larger magnitude than the folded bins, which for
// latency-like data are the quantiles people ask for (p50 … p99).
//
// The zero value is not usable; create sketches with NewSketch.
type Sketch struct {
	alpha, gamma, logGamma float64
	maxBins                int
	pos, neg               store // neg holds |v| of negative values
	zero                   uint64
	min, max               float64
}

// store is a dense run of bin counts starting at bin offset.
type store struct {
	offset    int
	counts    []uint64
	collapsed bool // bins below offset were folded into the first one
}

// NewSketch returns an empty sketch with DefaultAlpha and DefaultMaxBins.
func NewSketch() *Sketch {
	s, _ := NewSketchAccuracy(DefaultAlpha, DefaultMaxBins)
	return s
}

// NewSketchAccuracy returns an empty sketch of relative accuracy alpha
// (0 < alpha < 1) holding at most maxBins bins (≥ 2).
func NewSketchAccuracy(alpha float64, maxBins int) (*Sketch, error) {
	if !(alpha > 0 && alpha < 1) || maxBins < 2 || maxBins > 1<<16 {
		return nil, fmt.Errorf("rollup: sketch accuracy %v, %d bins: want 0 < α < 1 and 2 ≤ bins ≤ 65536", alpha, maxBins)
	}
	g := (1 + alpha) / (1 - alpha)
	return &Sketch{alpha: alpha, gamma: g, logGamma: math.Log(g), maxBins: maxBins, min: math.Inf(1), max: math.Inf(-1)}, nil
}

// Alpha is the relative accuracy; MaxBins the bin limit.
func (s *Sketch) Alpha() float64 { return s.alpha }
func (s *Sketch) MaxBins() int   { return s.maxBins }

// Bins is the number of bins in use (zero count excluded).
func (s *Sketch) Bins() int { return len(s.pos.counts) + len(s.neg.counts) }

// Count is the number of values added.
func (s *Sketch) Count() uint64 {
	n := s.zero
	for _, c := range s.pos.counts {
		n += c
	}
	for _, c := range s.neg.counts {
		n += c
	}
	return n
}

// index is the bin of |v| (v ≥ minIndexable).
func (s *Sketch) index(v float64) int {
	return int(math.Ceil(math.Log(v) / s.logGamma))
}

// value is the estimate of the values in bin k.
func (s *Sketch) value(k int) float64 {
	return 2 * math.Exp(float64(k)*s.logGamma) / (1 + s.gamma)
}

// Add adds one value. NaN and ±Inf are ignored: they have no rank a
// quantile could report.
func (s *Sketch) Add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	s.min, s.max = min(s.min, v), max(s.max, v)
	switch {
	case v >= minIndexable:
		s.pos.add(s.index(v), 1)
	case v <= -minIndexable:
		s.neg.add(s.index(-v), 1)
	default:
		s.zero++
		return
	}
	s.limit()
}

// add adds n to bin k. A collapsed store folds bins below its first one
// into it.
func (st *store) add(k int, n uint64) {
	switch {
	case len(st.counts) == 0:
		st.offset = k
		st.counts = append(st.counts[:0], n)
		return
	case st.collapsed && k < st.offset:
		k = st.offset
	}
	if k < st.offset {
		grow := st.offset - k
		st.counts = append(make([]uint64, grow, grow+len(st.counts)), st.counts...)
		st.offset = k
	} else if i := k - st.offset; i >= len(st.counts) {
		st.counts = append(st.counts, make([]uint64, i-len(st.counts)+1)...)
	}
	st.counts[k-st.offset] += n
}

// limit folds the lowest bins of the larger store until at most maxBins
// are in use (maxBins ≥ 2, so one bin each always fits).
func (s *Sketch) limit() {
	for over := s.Bins() - s.maxBins; over > 0; {
		a, b := &s.pos, &s.neg
		if len(b.counts) > len(a.counts) {
			a, b = b, a
		}
		n := min(over, max(len(a.counts)-len(b.counts), 1), len(a.counts)-1)
		a.collapseLow(n)
		over -= n
	}
}

// collapseLow folds the n lowest bins into the next one.
func (st *store) collapseLow(n int) {
	var sum uint64
	for _, c := range st.counts[:n] {
		sum += c
	}
	st.counts = st.counts[n:]
	st.counts[0] += sum
	st.offset += n
	st.collapsed = true
}

// Merge adds every value of o to s (o is unchanged). Both must have the
// same accuracy and bin limit.
func (s *Sketch) Merge(o *Sketch) error {
	if o == nil {
		return nil
	}
	if s.alpha != o.alpha || s.maxBins != o.maxBins {
		return fmt.Errorf("%w: α %v/%v, bins %d/%d", ErrIncompatible, s.alpha, o.alpha, s.maxBins, o.maxBins)
	}
	s.min, s.max = min(s.min, o.min), max(s.max, o.max)
	s.zero += o.zero
	s.pos.merge(&o.pos)
	s.neg.merge(&o.neg)
	s.limit()
	return nil
}

func (st *store) merge(o *store) {
	if len(o.counts) == 0 {
		return
	}
	// Grow once to the union's range, then add.
	st.add(o.offset, 0)
	st.add(o.offset+len(o.counts)-1, 0)
	for i, c := range o.counts {
		if c != 0 {
			st.add(o.offset+i, c)
		}
	}
	st.collapsed = st.collapsed || o.collapsed
}

// Quantile returns the estimate of the q-quantile (0 ≤ q ≤ 1): the value
// of rank ⌊q·(n−1)⌋ in sorted order, within the relative accuracy. It
// returns NaN for an empty sketch or a q out of range.
func (s *Sketch) Quantile(q float64) float64 {
	n := s.Count()
	if n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	rank := uint64(q * float64(n-1))
	var v float64
	// Ascending order: negative bins by decreasing |v|, zero, positive bins.
	var seen uint64
	found := false
	for i := len(s.neg.counts) - 1; i >= 0 && !found; i-- {
		if seen += s.neg.counts[i]; seen > rank {
			v, found = -s.value(s.neg.offset+i), true
		}
	}
	if !found {
		if seen += s.zero; seen > rank {
			v, found = 0, true
		}
	}
	for i := 0; i < len(s.pos.counts) && !found; i++ {
		if seen += s.pos.counts[i]; seen > rank {
			v, found = s.value(s.pos.offset+i), true
		}
	}
	// The exact quantile lies in [min, max]: clamping only moves the
	// estimate towards it.
	return min(max(v, s.min), s.max)
}

// Clone returns an independent copy.
func (s *Sketch) Clone() *Sketch {
	c := *s
	c.pos.counts = append([]uint64(nil), s.pos.counts...)
	c.neg.counts = append([]uint64(nil), s.neg.counts...)
	return &c
}
