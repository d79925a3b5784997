package tsm

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Type is the value type of a key; it is also the block's type byte.
type Type byte

// The five InfluxDB field types.
const (
	FloatType    Type = 1
	IntegerType  Type = 2
	UnsignedType Type = 3
	BooleanType  Type = 4
	StringType   Type = 5
)

func (t Type) String() string {
	switch t {
	case FloatType:
		return "float"
	case IntegerType:
		return "integer"
	case UnsignedType:
		return "unsigned"
	case BooleanType:
		return "boolean"
	case StringType:
		return "string"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

func (t Type) valid() bool { return t >= FloatType && t <= StringType }

// Values are the values of one key as columns: timestamps T (nanoseconds),
// and either V (numbers as 64 bits: float bits, two's-complement integer,
// unsigned, 0/1 for booleans) or S (strings). Columns rather than a slice of
// structs because that is what blocks encode and what the cache appends to,
// and because 16 bytes per numeric value is all the cache then pays.
type Values struct {
	Type Type
	T    []int64
	V    []uint64 // every type but StringType
	S    []string // StringType only
}

// Len is the number of values.
func (v *Values) Len() int { return len(v.T) }

// Append adds one value at the end (bits for numbers, s for strings).
func (v *Values) Append(t int64, bits uint64, s string) {
	v.T = append(v.T, t)
	if v.Type == StringType {
		v.S = append(v.S, s)
	} else {
		v.V = append(v.V, bits)
	}
}

// appendValues adds all of o (same type) at the end.
func (v *Values) appendValues(o *Values) {
	v.T = append(v.T, o.T...)
	v.V = append(v.V, o.V...)
	v.S = append(v.S, o.S...)
}

// Float, Int, Uint and Bool read value i of a numeric key.
func (v *Values) Float(i int) float64 { return math.Float64frombits(v.V[i]) }
func (v *Values) Int(i int) int64     { return int64(v.V[i]) }
func (v *Values) Uint(i int) uint64   { return v.V[i] }
func (v *Values) Bool(i int) bool     { return v.V[i] != 0 }

// Number is value i as a float64, for aggregation (booleans 0/1; strings 0).
func (v *Values) Number(i int) float64 {
	switch v.Type {
	case FloatType:
		return math.Float64frombits(v.V[i])
	case IntegerType:
		return float64(int64(v.V[i]))
	case UnsignedType, BooleanType:
		return float64(v.V[i])
	}
	return 0
}

// Format is value i as text (for the CLI and messages).
func (v *Values) Format(i int) string {
	switch v.Type {
	case FloatType:
		return fmt.Sprint(v.Float(i))
	case IntegerType:
		return fmt.Sprint(v.Int(i))
	case UnsignedType:
		return fmt.Sprint(v.Uint(i))
	case BooleanType:
		return fmt.Sprint(v.Bool(i))
	case StringType:
		return fmt.Sprintf("%q", v.S[i])
	}
	return "?"
}

// sorted reports whether T is strictly increasing (sorted, no duplicates).
func (v *Values) sorted() bool {
	for i := 1; i < len(v.T); i++ {
		if v.T[i] <= v.T[i-1] {
			return false
		}
	}
	return true
}

// deduplicate sorts by time and keeps, for each timestamp, the value that
// was appended last: the newest write wins. The sort is stable, which is
// what makes "last appended" well defined among equal timestamps.
func (v *Values) deduplicate() {
	if v.sorted() {
		return
	}
	sort.Stable(byTime{v})
	n := 0
	for i := range v.T {
		if n > 0 && v.T[n-1] == v.T[i] {
			n-- // overwrite the older value with the same timestamp
		}
		v.T[n] = v.T[i]
		if v.Type == StringType {
			v.S[n] = v.S[i]
		} else {
			v.V[n] = v.V[i]
		}
		n++
	}
	v.truncate(n)
}

type byTime struct{ v *Values }

func (b byTime) Len() int           { return len(b.v.T) }
func (b byTime) Less(i, j int) bool { return b.v.T[i] < b.v.T[j] }
func (b byTime) Swap(i, j int) {
	b.v.T[i], b.v.T[j] = b.v.T[j], b.v.T[i]
	if b.v.Type == StringType {
		b.v.S[i], b.v.S[j] = b.v.S[j], b.v.S[i]
	} else {
		b.v.V[i], b.v.V[j] = b.v.V[j], b.v.V[i]
	}
}

func (v *Values) truncate(n int) {
	v.T = v.T[:n]
	if v.Type == StringType {
		v.S = v.S[:n]
	} else {
		v.V = v.V[:n]
	}
}

// window keeps only the values with min ≤ t ≤ max (v must be sorted).
func (v *Values) window(min, max int64) {
	lo, _ := slices.BinarySearch(v.T, min)
	hi, found := slices.BinarySearch(v.T, max)
	if found {
		hi++
	}
	if lo >= hi {
		v.truncate(0)
		return
	}
	v.T = v.T[lo:hi]
	if v.Type == StringType {
		v.S = v.S[lo:hi]
	} else {
		v.V = v.V[lo:hi]
	}
}

// exclude removes the values with min ≤ t ≤ max (a tombstone), in place.
func (v *Values) exclude(min, max int64) {
	lo, _ := slices.BinarySearch(v.T, min)
	hi, found := slices.BinarySearch(v.T, max)
	if found {
		hi++
	}
	if lo >= hi {
		return
	}
	n := lo + copy(v.T[lo:], v.T[hi:])
	if v.Type == StringType {
		copy(v.S[lo:], v.S[hi:])
	} else {
		copy(v.V[lo:], v.V[hi:])
	}
	v.truncate(n)
}

// merge merges newer into v (both sorted and deduplicated); on equal
// timestamps newer's value wins. The result is sorted and deduplicated.
func (v *Values) merge(newer *Values) {
	if newer.Len() == 0 {
		return
	}
	if v.Len() > 0 && v.Type != newer.Type {
		// A type conflict the write path let through (it rejects them): the
		// newer data wins whole rather than mixing types in one column.
		*v = newer.clone()
		return
	}
	if v.Len() == 0 || v.T[len(v.T)-1] < newer.T[0] {
		v.Type = newer.Type
		v.appendValues(newer)
		return
	}
	out := Values{Type: newer.Type, T: make([]int64, 0, v.Len()+newer.Len())}
	i, j := 0, 0
	for i < v.Len() || j < newer.Len() {
		switch {
		case j == newer.Len() || (i < v.Len() && v.T[i] < newer.T[j]):
			out.appendFrom(v, i)
			i++
		case i == v.Len() || newer.T[j] < v.T[i]:
			out.appendFrom(newer, j)
			j++
		default: // equal timestamps: the newer write wins
			out.appendFrom(newer, j)
			i++
			j++
		}
	}
	*v = out
}

func (v *Values) appendFrom(o *Values, i int) {
	v.T = append(v.T, o.T[i])
	if o.Type == StringType {
		v.S = append(v.S, o.S[i])
	} else {
		v.V = append(v.V, o.V[i])
	}
}

// clone is a deep copy (string contents are immutable and shared).
func (v *Values) clone() Values {
	return Values{Type: v.Type, T: slices.Clone(v.T), V: slices.Clone(v.V), S: slices.Clone(v.S)}
}

// size is what the cache charges for the values: 16 bytes a number, 8 plus
// the string's bytes plus its header for a string.
func (v *Values) size() int {
	n := 8 * len(v.T)
	if v.Type == StringType {
		for _, s := range v.S {
			n += 16 + len(s)
		}
		return n
	}
	return n + 8*len(v.V)
}
