package tsm

import (
	"bytes"
	"fmt"

	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// Batch groups a write by key: the unit the engine logs (one WAL record) and
// applies to the cache. Grouping first means each key is hashed once per
// batch, not once per value, and appears once in the WAL record.
type Batch struct {
	keys []string
	vals []Values
	pos  map[string]int
	n    int

	// scratch for AddPoint
	series []byte
	key    []byte
	tags   []lineprotocol.Tag
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{pos: make(map[string]int)} }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	for i := range b.vals {
		b.vals[i] = Values{}
	}
	b.keys, b.vals, b.n = b.keys[:0], b.vals[:0], 0
	clear(b.pos)
}

// Len is the number of values; Keys the number of distinct keys.
func (b *Batch) Len() int  { return b.n }
func (b *Batch) Keys() int { return len(b.keys) }

// Add adds one value of key (bits for numbers, s for strings).
func (b *Batch) Add(key []byte, t Type, ts int64, bits uint64, s string) error {
	i, ok := b.pos[string(key)] // no allocation: the compiler special-cases this lookup
	if !ok {
		if len(key) == 0 || len(key) > maxKeySize {
			return fmt.Errorf("%w: %d bytes", ErrInvalidKey, len(key))
		}
		k := string(key)
		i = len(b.keys)
		b.pos[k] = i
		b.keys = append(b.keys, k)
		b.vals = append(b.vals, Values{Type: t})
	}
	v := &b.vals[i]
	if v.Type != t {
		return fmt.Errorf("%w: %s is %v in this batch, then %v", ErrFieldType, key, v.Type, t)
	}
	v.Append(ts, bits, s)
	b.n++
	return nil
}

// AddPoint adds every field of p, under the keys "series key#!~#field".
// A point without a timestamp gets now.
func (b *Batch) AddPoint(p *lineprotocol.Point, now int64) error {
	b.series, b.tags = AppendSeriesKey(b.series[:0], p, b.tags)
	if bytes.Contains(b.series, []byte(FieldSeparator)) {
		return fmt.Errorf("%w: series key %q contains the field separator %q", ErrInvalidKey, b.series, FieldSeparator)
	}
	if err := checkNames(p); err != nil {
		return err
	}
	t := now
	if p.HasTime {
		t = p.Time
	}
	for _, f := range p.Fields {
		b.key = append(append(append(b.key[:0], b.series...), FieldSeparator...), f.Key...)
		var err error
		switch f.Value.Kind() {
		case lineprotocol.Float:
			err = b.Add(b.key, FloatType, t, f.Value.Bits(), "")
		case lineprotocol.Integer:
			err = b.Add(b.key, IntegerType, t, f.Value.Bits(), "")
		case lineprotocol.Unsigned:
			err = b.Add(b.key, UnsignedType, t, f.Value.Bits(), "")
		case lineprotocol.Boolean:
			err = b.Add(b.key, BooleanType, t, f.Value.Bits(), "")
		case lineprotocol.String:
			err = b.Add(b.key, StringType, t, 0, string(f.Value.Bytes()))
		default:
			err = fmt.Errorf("tsm: field %q has no value", f.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkNames rejects names ending in a backslash: in a key the backslash
// would escape the delimiter after it. (The line-protocol parser never
// produces them; a program building points might.)
func checkNames(p *lineprotocol.Point) error {
	bad := func(s []byte) bool { return len(s) > 0 && s[len(s)-1] == '\\' }
	if bad(p.Measurement) {
		return fmt.Errorf("%w: measurement %q ends in a backslash", ErrInvalidKey, p.Measurement)
	}
	for _, t := range p.Tags {
		if bad(t.Key) || bad(t.Value) {
			return fmt.Errorf("%w: tag %q=%q ends in a backslash", ErrInvalidKey, t.Key, t.Value)
		}
	}
	return nil
}
