package ingest

import (
	"fmt"
	"testing"
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
