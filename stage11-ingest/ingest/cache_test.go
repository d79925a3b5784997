package ingest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

func TestSeriesCache(t *testing.T) {
	c := NewSeriesCache(1 << 10)
	key := []byte("cpu,host=a")
	if r := c.Row(Pairs, key); r != nil {
		t.Fatalf("empty cache: row %v", r)
	}
	// A row's series arrive one suffix at a time, as a line's fields do.
	for i := range 10 {
		c.Set(Pairs, key, fmt.Appendf(nil, "_f%d", i), uint64(100+i))
	}
	r := c.Row(Pairs, key)
	for i := range 10 {
		sf := fmt.Appendf(nil, "_f%d", i)
		if got := r.Get(sf, i); got != uint64(100+i) {
			t.Errorf("Get(%s, hint %d) = %d, want %d", sf, i, got, 100+i)
		}
		if got := r.Get(sf, 9-i); got != uint64(100+i) {
			t.Errorf("Get(%s, wrong hint %d) = %d, want %d", sf, 9-i, got, 100+i)
		}
	}
	if got := r.Get([]byte("_other"), 0); got != 0 {
		t.Errorf("unknown suffix: %d, want 0", got)
	}
	// Setting a suffix again replaces its id (a series recreated after
	// the head dropped it) and leaves one entry for it; the RowIDs read
	// before is unchanged.
	c.Set(Pairs, key, []byte("_f3"), 7)
	if got := c.Row(Pairs, key).Get([]byte("_f3"), 3); got != 7 {
		t.Errorf("after reset: %d, want 7", got)
	}
	if n := len(c.Row(Pairs, key).suffixes); n != 10 {
		t.Errorf("after reset: %d suffixes, want 10", n)
	}
	if got := r.Get([]byte("_f3"), 3); got != 103 {
		t.Errorf("published RowIDs changed: %d, want 103", got)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
}

func TestSeriesCacheBounded(t *testing.T) {
	c := NewSeriesCache(cacheShards * 4) // 5 keys per shard
	for i := range 10_000 {
		c.Set(Pairs, fmt.Appendf(nil, "k%d", i), nil, uint64(i+1))
	}
	if n := c.Len(); n > cacheShards*5 {
		t.Errorf("Len = %d after 10,000 keys, want at most %d", n, cacheShards*5)
	}
}

// rowFormat is a RowFormat whose keys are "name" and whose label sets are
// {__name__=name+suffix}; it counts the parses of a key, and refuses keys
// starting with '!'.
type rowFormat struct{ rows *int }

type rowOf string

func (f rowFormat) Labels(key, suffix []byte) (model.Labels, error) {
	r, err := f.Row(key)
	if err != nil {
		return model.Labels{}, err
	}
	return r.Labels(suffix)
}

func (f rowFormat) Row(key []byte) (RowLabels, error) {
	*f.rows++
	if len(key) > 0 && key[0] == '!' {
		return nil, fmt.Errorf("%w: bad key %q", ErrInvalidSeries, key)
	}
	return rowOf(key), nil
}

func (r rowOf) Labels(suffix []byte) (model.Labels, error) {
	return NewLabels([]model.Label{{Name: model.MetricName, Value: string(r)}}, suffix)
}

func TestLabelerParsesARowOnce(t *testing.T) {
	var rows int
	f := &rowFormat{rows: &rows}
	b := &Batch{}
	for _, key := range []string{"a", "!bad", "b"} {
		b.addRow(f, []byte(key))
		for _, sf := range []string{"_x", "_y", "_z"} {
			b.addPoint([]byte(sf), 1, 1)
		}
	}
	lb := newLabeler()
	for i := range b.Len() {
		got, err := lb.labels(b, i)
		want, werr := b.Labels(i)
		if (err != nil) != (werr != nil) || err == nil && !got.Equal(want) {
			t.Errorf("point %d: labeler %v, %v; Labels %v, %v", i, got, err, want, werr)
		}
		if err != nil && !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("point %d: %v does not wrap ErrInvalidSeries", i, err)
		}
	}
	// b.Labels parsed each of the 9 points' keys; the labeler each row once.
	if want := 9 + 3; rows != want {
		t.Errorf("%d parses, want %d (9 by Batch.Labels, one per row by the labeler)", rows, want)
	}
}

// SetRow sets a key's new series at once: with what the key had, one entry
// per suffix, a suffix set again replaced, the RowIDs read before unchanged.
func TestSeriesCacheSetRow(t *testing.T) {
	c := NewSeriesCache(1 << 10)
	key := []byte("k")
	c.Set(Pairs, key, []byte("_a"), 1)
	c.Set(Pairs, key, []byte("_b"), 2)
	before := c.Row(Pairs, key)
	r := c.SetRow(Pairs, key, [][]byte{[]byte("_c"), []byte("_b"), []byte("")}, []uint64{3, 20, 4})
	if r != c.Row(Pairs, key) {
		t.Fatal("SetRow did not return the key's RowIDs")
	}
	want := map[string]uint64{"_a": 1, "_b": 20, "_c": 3, "": 4}
	if len(r.suffixes) != len(want) {
		t.Errorf("%d suffixes %q, want %d", len(r.suffixes), r.suffixes, len(want))
	}
	for sf, id := range want {
		if got := r.Get([]byte(sf), 0); got != id {
			t.Errorf("Get(%q) = %d, want %d", sf, got, id)
		}
	}
	if got := before.Get([]byte("_b"), 1); got != 2 {
		t.Errorf("published RowIDs changed: %d, want 2", got)
	}
	if got := before.Get([]byte("_c"), 0); got != 0 {
		t.Errorf("published RowIDs grew: %d", got)
	}
}

// A Pairs key's Row builds what Labels builds, errors included.
func TestPairsRowMatchesLabels(t *testing.T) {
	name := func(v string) []byte { return AppendPair(nil, model.MetricName, v) }
	keys := [][]byte{
		AppendPair(name("cpu"), "host", "a"),
		AppendPair(AppendPair(nil, "zone", "z"), model.MetricName, "m"), // not in name order
		AppendPair(name("cpu"), "empty", ""),
		AppendPair(nil, "host", "a"),                       // no name
		AppendPair(name("cpu"), "", "x"),                   // empty name
		AppendPair(name("cpu"), "host", "\xff"),            // not UTF-8
		AppendPair(name("cpu"), model.MetricName, "again"), // name twice
		append(name("cpu"), 0x05, 'a'),                     // damaged
	}
	rf := Pairs.(RowFormat)
	for _, key := range keys {
		row, rerr := rf.Row(key)
		for _, sf := range []string{"", "_usage"} {
			want, werr := Pairs.Labels(key, []byte(sf))
			var got model.Labels
			err := rerr
			if err == nil {
				got, err = row.Labels([]byte(sf))
			}
			if (err != nil) != (werr != nil) || !got.Equal(want) {
				t.Errorf("key %q suffix %q: Row %v, %v; Labels %v, %v", key, sf, got, err, want, werr)
			}
			if err != nil && !errors.Is(err, ErrInvalidSeries) {
				t.Errorf("key %q: %v does not wrap ErrInvalidSeries", key, err)
			}
		}
	}
	// The label sets of one row do not share a name: building one does
	// not change another.
	row, _ := rf.Row(keys[0])
	a, _ := row.Labels([]byte("_a"))
	b, _ := row.Labels([]byte("_b"))
	if a.Name() != "cpu_a" || b.Name() != "cpu_b" {
		t.Errorf("names %q and %q, want cpu_a and cpu_b", a.Name(), b.Name())
	}
}
