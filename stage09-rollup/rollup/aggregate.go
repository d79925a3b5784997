package rollup

import (
	"math"
)

// Aggregate is the rollup point of one series over one window (the guide's
// RollupPoint plus its PercentileRollupPoint): count, sum, min and max,
// from which avg = sum / count, and optionally a quantile sketch. Every
// field is mergeable — counts and sums add, mins and maxes take the
// extreme, sketches merge — so the aggregate of a day is the merge of its
// hours, and a query's result is the merge of every window it reads.
//
// The zero value is an empty aggregate without a sketch.
type Aggregate struct {
	Count    int64
	Sum      float64
	Min, Max float64 // meaningless while Count == 0
	Sketch   *Sketch // nil: no percentiles kept
}

// NewAggregate returns an empty aggregate that keeps a sketch (withSketch)
// or not.
func NewAggregate(withSketch bool) Aggregate {
	a := Aggregate{}
	if withSketch {
		a.Sketch = NewSketch()
	}
	return a
}

// Add adds one raw value. NaN and ±Inf are skipped, here and in every
// oracle: a sum over them has no useful value.
func (a *Aggregate) Add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if a.Count == 0 {
		a.Min, a.Max = v, v
	} else {
		a.Min, a.Max = min(a.Min, v), max(a.Max, v)
	}
	a.Count++
	a.Sum += v
	if a.Sketch != nil {
		a.Sketch.Add(v)
	}
}

// Merge adds o into a. a keeps a sketch only if it has one: merging an
// aggregate without one into one with one drops nothing from a but cannot
// add o's values to it, so a query that needs percentiles merges only
// aggregates that all carry sketches (the engine stores one per window).
func (a *Aggregate) Merge(o Aggregate) error {
	if o.Count == 0 {
		return nil
	}
	if a.Count == 0 {
		a.Min, a.Max = o.Min, o.Max
	} else {
		a.Min, a.Max = min(a.Min, o.Min), max(a.Max, o.Max)
	}
	a.Count += o.Count
	a.Sum += o.Sum
	if a.Sketch != nil {
		return a.Sketch.Merge(o.Sketch)
	}
	return nil
}

// Avg is Sum / Count (NaN when empty).
func (a Aggregate) Avg() float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	return a.Sum / float64(a.Count)
}

// Quantile is the sketch's q-quantile (NaN without a sketch or values).
func (a Aggregate) Quantile(q float64) float64 {
	if a.Sketch == nil {
		return math.NaN()
	}
	return a.Sketch.Quantile(q)
}

// Value is the aggregate a function asks for.
func (a Aggregate) Value(f Func) float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	switch f.Kind {
	case FuncAvg:
		return a.Avg()
	case FuncSum:
		return a.Sum
	case FuncMin:
		return a.Min
	case FuncMax:
		return a.Max
	case FuncCount:
		return float64(a.Count)
	case FuncQuantile:
		return a.Quantile(f.Q)
	}
	return math.NaN()
}
