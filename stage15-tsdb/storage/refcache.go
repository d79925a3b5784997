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
// The cache holds one entry per active series, so it keeps 24 bytes per
// series: not the key (a remote-write series' labels are 100 bytes and
// more, which made the cache weigh more than the head's own series) but a
// 128-bit digest of it, two 64-bit hashes with independent seeds. Two keys
// share a digest with probability 2^-128 per pair: for a billion keys,
// about 10^-21, far below the rate of undetected memory errors. A 64-bit
// digest would not do: a million series give a 3·10^-8 chance of one
// collision, and a collision writes one series' samples into another.
//
// It is sharded so that concurrent writers rarely meet on a lock, and
// bounded: a shard that grows past its share of max is cleared (the next
// write of each series pays one index lookup again).
type RefCache struct {
	seed   [2]maphash.Seed
	shards [refShards]refShard
	max    int
}

const refShards = 64

// refKey is a key's digest.
type refKey [2]uint64

type refShard struct {
	mu sync.RWMutex
	m  map[refKey]uint64
}

// NewRefCache returns a cache of at most about max entries.
func NewRefCache(max int) *RefCache {
	c := &RefCache{seed: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, max: max/refShards + 1}
	for i := range c.shards {
		c.shards[i].m = map[refKey]uint64{}
	}
	return c
}

// digest returns key's digest and its shard.
func (c *RefCache) digest(key []byte) (refKey, *refShard) {
	k := refKey{maphash.Bytes(c.seed[0], key), maphash.Bytes(c.seed[1], key)}
	return k, &c.shards[k[0]%refShards]
}

// Get returns the ref cached for key, or 0.
func (c *RefCache) Get(key []byte) uint64 {
	k, s := c.digest(key)
	s.mu.RLock()
	ref := s.m[k]
	s.mu.RUnlock()
	return ref
}

// Set caches ref for key (0 removes it).
func (c *RefCache) Set(key []byte, ref uint64) {
	k, s := c.digest(key)
	s.mu.Lock()
	if ref == 0 {
		delete(s.m, k)
	} else {
		if len(s.m) >= c.max {
			clear(s.m)
		}
		s.m[k] = ref
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
