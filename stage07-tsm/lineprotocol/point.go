package lineprotocol

import (
	"fmt"
	"math"
	"strconv"
)

// Point is one parsed line. Its byte slices alias the parsed line or the
// Point's own buffer (for names that contained escapes): they are valid
// until the line's memory is reused or the Point is parsed into again.
// Copy what must outlive that.
type Point struct {
	// Key is the measurement and tag set exactly as written (escapes
	// kept): the same series always has the same Key as long as its
	// writer keeps its tag order, so an ingester can use it as a cache key
	// without building the series' name (ParseKey reads it back).
	Key         []byte
	Measurement []byte
	Tags        []Tag   // in input order (a series key sorts them)
	Fields      []Field // in input order, at least one
	Time        int64   // nanoseconds since the Unix epoch, if HasTime
	HasTime     bool    // false when the line had no timestamp (the writer supplies "now")

	buf []byte // unescaped names and strings
}

// Tag is one tag of a point, unescaped.
type Tag struct{ Key, Value []byte }

// Field is one field of a point, its key unescaped.
type Field struct {
	Key   []byte
	Value Value
}

// Kind is the type of a field value.
type Kind uint8

// The field types of line protocol.
const (
	Float    Kind = 1 // 1.5, -3, 1e9
	Integer  Kind = 2 // 42i
	Unsigned Kind = 3 // 42u
	Boolean  Kind = 4 // t, true, F, False …
	String   Kind = 5 // "text"
)

func (k Kind) String() string {
	switch k {
	case Float:
		return "float"
	case Integer:
		return "integer"
	case Unsigned:
		return "unsigned"
	case Boolean:
		return "boolean"
	case String:
		return "string"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a field value: a kind and either 64 bits (float bits, integer,
// unsigned, 0/1) or the unescaped bytes of a string.
type Value struct {
	kind Kind
	num  uint64
	str  []byte
}

// FloatValue, IntValue, UintValue, BoolValue and StringValue build values
// (for writers and tests).
func FloatValue(f float64) Value { return Value{kind: Float, num: math.Float64bits(f)} }
func IntValue(i int64) Value     { return Value{kind: Integer, num: uint64(i)} }
func UintValue(u uint64) Value   { return Value{kind: Unsigned, num: u} }
func StringValue(s []byte) Value { return Value{kind: String, str: s} }
func BoolValue(b bool) Value {
	if b {
		return Value{kind: Boolean, num: 1}
	}
	return Value{kind: Boolean}
}

// Kind is the value's type.
func (v Value) Kind() Kind { return v.kind }

// Float is the value of a Float.
func (v Value) Float() float64 { return math.Float64frombits(v.num) }

// Int is the value of an Integer.
func (v Value) Int() int64 { return int64(v.num) }

// Uint is the value of an Unsigned.
func (v Value) Uint() uint64 { return v.num }

// Bool is the value of a Boolean.
func (v Value) Bool() bool { return v.num != 0 }

// Bits is the raw 64-bit payload: float bits, two's-complement integer,
// unsigned, or 0/1 for booleans. Storage engines keep numbers this way.
func (v Value) Bits() uint64 { return v.num }

// Bytes is the unescaped content of a String (aliasing the parsed input).
func (v Value) Bytes() []byte { return v.str }

// String formats the value as line protocol would (for messages and tests).
func (v Value) String() string {
	b, err := appendValue(nil, v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// Equal reports whether two values have the same kind and content (floats
// compared by bits, so NaN never arises: the parser rejects it).
func (v Value) Equal(o Value) bool {
	return v.kind == o.kind && v.num == o.num && string(v.str) == string(o.str)
}
