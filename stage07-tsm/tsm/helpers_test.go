package tsm

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// oracle is the obviously-correct model the engine is checked against:
// key → timestamp → value, where a later write simply overwrites.
type oracle struct {
	types map[string]Type
	m     map[string]map[int64]oval
}

type oval struct {
	bits uint64
	s    string
}

func newOracle() *oracle { return &oracle{types: map[string]Type{}, m: map[string]map[int64]oval{}} }

func (o *oracle) add(key string, t Type, ts int64, bits uint64, s string) {
	o.types[key] = t
	if o.m[key] == nil {
		o.m[key] = map[int64]oval{}
	}
	o.m[key][ts] = oval{bits, s}
}

func (o *oracle) delete(keys []string, min, max int64) {
	for _, k := range keys {
		for ts := range o.m[k] {
			if ts >= min && ts <= max {
				delete(o.m[k], ts)
			}
		}
	}
}

// want returns key's values in [min, max] as Values, sorted.
func (o *oracle) want(key string, min, max int64) Values {
	v := Values{Type: o.types[key]}
	var ts []int64
	for t := range o.m[key] {
		if t >= min && t <= max {
			ts = append(ts, t)
		}
	}
	slices.Sort(ts)
	for _, t := range ts {
		x := o.m[key][t]
		v.Append(t, x.bits, x.s)
	}
	return v
}

func (o *oracle) count() int {
	n := 0
	for _, m := range o.m {
		n += len(m)
	}
	return n
}

// sameValues reports the first difference between got and want.
func sameValues(got, want Values) error {
	if got.Len() != want.Len() {
		return fmt.Errorf("%d values, want %d", got.Len(), want.Len())
	}
	if got.Len() > 0 && got.Type != want.Type {
		return fmt.Errorf("type %v, want %v", got.Type, want.Type)
	}
	for i := range got.T {
		if got.T[i] != want.T[i] {
			return fmt.Errorf("value %d: time %d, want %d", i, got.T[i], want.T[i])
		}
		if want.Type == StringType {
			if got.S[i] != want.S[i] {
				return fmt.Errorf("value %d (t=%d): %q, want %q", i, got.T[i], got.S[i], want.S[i])
			}
		} else if got.V[i] != want.V[i] {
			return fmt.Errorf("value %d (t=%d): bits %x, want %x", i, got.T[i], got.V[i], want.V[i])
		}
	}
	return nil
}

// randValue draws a value of type t: gauges that wander, with repeats,
// and the occasional extreme.
func randValue(r *rand.Rand, t Type, prev uint64) (uint64, string) {
	switch t {
	case FloatType:
		switch r.IntN(10) {
		case 0:
			return prev, ""
		case 1:
			return math.Float64bits([]float64{math.Inf(1), math.NaN(), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}[r.IntN(5)]), ""
		}
		return math.Float64bits(math.Float64frombits(prev) + r.NormFloat64()), ""
	case IntegerType:
		if r.IntN(50) == 0 {
			return uint64([]int64{math.MinInt64, math.MaxInt64, 0, -1}[r.IntN(4)]), ""
		}
		return uint64(int64(prev) + int64(r.IntN(7)-3)), ""
	case UnsignedType:
		if r.IntN(50) == 0 {
			return []uint64{math.MaxUint64, 0, 1 << 63}[r.IntN(3)], ""
		}
		return prev + uint64(r.IntN(5)), ""
	case BooleanType:
		return uint64(r.IntN(2)), ""
	}
	return 0, fmt.Sprintf("s%d-%s", r.IntN(100), string(make([]byte, r.IntN(5))))
}

var allTypes = []Type{FloatType, IntegerType, UnsignedType, BooleanType, StringType}

// randSeries makes n sorted values of type t with irregular timestamps.
func randSeries(r *rand.Rand, t Type, n int) Values {
	v := Values{Type: t}
	ts := int64(r.IntN(1e6)) * 1e9
	var prev uint64
	for range n {
		if r.IntN(20) == 0 {
			ts += int64(r.IntN(1e12)) // a gap
		} else {
			ts += 10e9 + int64(r.IntN(3)-1)*int64(r.IntN(1000))
		}
		bits, s := randValue(r, t, prev)
		prev = bits
		v.Append(ts, bits, s)
	}
	return v
}

func mustNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
