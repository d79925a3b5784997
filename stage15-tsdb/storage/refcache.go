package storage

import (
	"hash/maphash"
	"sync"
)

// RefCache maps a series' key as a writer saw it (the raw label bytes of a
// remote-write request, say) to the storage engine's ref for that series,
// so that a series written again is appended by ref: no label set is built,
// hashed or looked up in the index. A ref the engine no longer knows
// (ErrUnknownRef, after head truncation) is simply replaced by the writer.
//
// It is sharded so that concurrent writers rarely meet on a lock, and
// bounded: a shard that grows past its share of max is cleared (the next
// write of each series pays one index lookup again).
type RefCache struct {
	seed   maphash.Seed
	shards [refShards]refShard
	max    int
}

const refShards = 64

type refShard struct {
	mu sync.RWMutex
	m  map[string]uint64
}

// NewRefCache returns a cache of at most about max entries.
func NewRefCache(max int) *RefCache {
	c := &RefCache{seed: maphash.MakeSeed(), max: max/refShards + 1}
	for i := range c.shards {
		c.shards[i].m = map[string]uint64{}
	}
	return c
}

func (c *RefCache) shard(key []byte) *refShard {
	return &c.shards[maphash.Bytes(c.seed, key)%refShards]
}

// Get returns the ref cached for key, or 0.
func (c *RefCache) Get(key []byte) uint64 {
	s := c.shard(key)
	s.mu.RLock()
	ref := s.m[string(key)]
	s.mu.RUnlock()
	return ref
}

// Set caches ref for key (0 removes it).
func (c *RefCache) Set(key []byte, ref uint64) {
	s := c.shard(key)
	s.mu.Lock()
	if ref == 0 {
		delete(s.m, string(key))
	} else {
		if len(s.m) >= c.max {
			clear(s.m)
		}
		s.m[string(key)] = ref
	}
	s.mu.Unlock()
}

// Len is the number of cached refs.
func (c *RefCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
