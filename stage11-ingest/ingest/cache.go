package ingest

import (
	"hash/maphash"
	"sync"
)

// SeriesCache maps what a decoder wrote (format, key, suffix) to the id a
// sink gave that series (stage06's series ref), so that a series written
// again is appended by id: its label set is not built, hashed or looked up
// again. Keys are looked up once per row (a line, a remote-write series),
// and a row's suffixes (a line's fields) in a short list.
//
// It is sharded, so concurrent flushers rarely meet on a lock, and bounded:
// a shard past its share of the maximum is cleared (each series then pays
// one lookup in the sink again).
type SeriesCache struct {
	seed   maphash.Seed
	max    int
	mu     sync.RWMutex
	shards map[Format]*[cacheShards]cacheShard
}

const cacheShards = 32

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*RowIDs
}

// RowIDs are the ids of one key's series, one per suffix. A RowIDs is
// never changed once published (Set publishes a new one), so it is read
// without a lock.
type RowIDs struct {
	suffixes []string
	ids      []uint64
}

// Get returns the id of the series with suffix, or 0. hint is where to
// look first: a row's points come in the same order line after line (a
// line's fields), so the k-th point of a row is usually the k-th suffix.
func (r *RowIDs) Get(suffix []byte, hint int) uint64 {
	if r == nil {
		return 0
	}
	if hint < len(r.suffixes) && r.suffixes[hint] == string(suffix) {
		return r.ids[hint]
	}
	for i, s := range r.suffixes {
		if s == string(suffix) {
			return r.ids[i]
		}
	}
	return 0
}

// NewSeriesCache returns a cache of about max keys.
func NewSeriesCache(max int) *SeriesCache {
	return &SeriesCache{seed: maphash.MakeSeed(), max: max/cacheShards + 1, shards: map[Format]*[cacheShards]cacheShard{}}
}

func (c *SeriesCache) shard(f Format, key []byte) *cacheShard {
	c.mu.RLock()
	sh := c.shards[f]
	c.mu.RUnlock()
	if sh == nil {
		c.mu.Lock()
		if sh = c.shards[f]; sh == nil {
			sh = new([cacheShards]cacheShard)
			for i := range sh {
				sh[i].m = map[string]*RowIDs{}
			}
			c.shards[f] = sh
		}
		c.mu.Unlock()
	}
	return &sh[maphash.Bytes(c.seed, key)%cacheShards]
}

// Row returns the ids cached for key (nil if none).
func (c *SeriesCache) Row(f Format, key []byte) *RowIDs {
	s := c.shard(f, key)
	s.mu.RLock()
	r := s.m[string(key)]
	s.mu.RUnlock()
	return r
}

// Set caches id for (f, key, suffix) and returns the key's new RowIDs.
func (c *SeriesCache) Set(f Format, key, suffix []byte, id uint64) *RowIDs {
	s := c.shard(f, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m[string(key)]
	// The new RowIDs is sized once: a row's series are created one suffix
	// at a time (a line's ten fields make ten Sets), and growing the lists
	// by append doubled the allocations of the cold start, when every
	// series is new.
	size := 1
	if old != nil {
		size += len(old.suffixes)
	} else if len(s.m) >= c.max {
		clear(s.m)
	}
	n := &RowIDs{suffixes: make([]string, 0, size), ids: make([]uint64, 0, size)}
	if old != nil {
		for i, sf := range old.suffixes {
			if sf != string(suffix) {
				n.suffixes = append(n.suffixes, sf)
				n.ids = append(n.ids, old.ids[i])
			}
		}
	}
	n.suffixes = append(n.suffixes, string(suffix))
	n.ids = append(n.ids, id)
	s.m[string(key)] = n
	return n
}

// SetRow caches ids[i] for (f, key, suffixes[i]), all of a key's new series
// at once, and returns the key's new RowIDs: one RowIDs and one string
// holding every new suffix, where a Set per suffix built a RowIDs each
// (ten per line-protocol line when its series are new).
func (c *SeriesCache) SetRow(f Format, key []byte, suffixes [][]byte, ids []uint64) *RowIDs {
	n := 0
	for _, sf := range suffixes {
		n += len(sf)
	}
	all := make([]byte, 0, n)
	for _, sf := range suffixes {
		all = append(all, sf...)
	}
	str := string(all)
	s := c.shard(f, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m[string(key)]
	size := len(suffixes)
	if old != nil {
		size += len(old.suffixes)
	} else if len(s.m) >= c.max {
		clear(s.m)
	}
	r := &RowIDs{suffixes: make([]string, 0, size), ids: make([]uint64, 0, size)}
	if old != nil {
		// The old entries of suffixes not set again, first: their
		// order is the order of the row's points (the hint of Get).
	next:
		for i, sf := range old.suffixes {
			for _, nsf := range suffixes {
				if sf == string(nsf) {
					continue next
				}
			}
			r.suffixes = append(r.suffixes, sf)
			r.ids = append(r.ids, old.ids[i])
		}
	}
	off := 0
	for i, sf := range suffixes {
		r.suffixes = append(r.suffixes, str[off:off+len(sf)])
		r.ids = append(r.ids, ids[i])
		off += len(sf)
	}
	s.m[string(key)] = r
	return r
}

// Len is the number of keys cached.
func (c *SeriesCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for _, sh := range c.shards {
		for i := range sh {
			sh[i].mu.RLock()
			n += len(sh[i].m)
			sh[i].mu.RUnlock()
		}
	}
	return n
}
