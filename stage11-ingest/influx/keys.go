package influx

import (
	"hash/maphash"
	"sync"
)

// KeySet remembers series keys (a line's measurement and tag set as
// written) whose lines a Decoder accepted: a later line with a known key
// skips parsing and checking its tag set again (lineprotocol.ParseFields),
// which is about half of a line. The keys were checked against the
// decoder's Limits, so decoders sharing a set must share their Limits.
//
// It is safe for concurrent use (the decoders of one listener share it),
// sharded so they rarely meet on a lock, and bounded: a shard past its
// share of the maximum is cleared, and its keys are checked once more.
type KeySet struct {
	seed   maphash.Seed
	max    int
	shards [keyShards]keyShard
}

const keyShards = 64

// keyShard maps a key's hash to the key: the key is hashed once per
// lookup (for the shard and the map both; a map of strings hashes the
// key's hundreds of bytes again), and compared once. Two keys with the same
// 64-bit hash take turns in the entry: the one not in it is parsed again.
type keyShard struct {
	mu sync.RWMutex
	m  map[uint64]string
	_  [40]byte // a shard per cache line: readers' lock words do not share one
}

// NewKeySet returns a set of about max keys.
func NewKeySet(max int) *KeySet {
	s := &KeySet{seed: maphash.MakeSeed(), max: max/keyShards + 1}
	for i := range s.shards {
		s.shards[i].m = map[uint64]string{}
	}
	return s
}

func (s *KeySet) shard(key []byte) (*keyShard, uint64) {
	h := maphash.Bytes(s.seed, key)
	return &s.shards[h%keyShards], h
}

// Has reports whether key is in the set.
func (s *KeySet) Has(key []byte) bool {
	sh, h := s.shard(key)
	sh.mu.RLock()
	k, ok := sh.m[h]
	sh.mu.RUnlock()
	return ok && k == string(key)
}

// Add puts key in the set (a copy).
func (s *KeySet) Add(key []byte) {
	sh, h := s.shard(key)
	sh.mu.Lock()
	if len(sh.m) >= s.max {
		clear(sh.m)
	}
	sh.m[h] = string(key)
	sh.mu.Unlock()
}

// Len is the number of keys in the set.
func (s *KeySet) Len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.RLock()
		n += len(s.shards[i].m)
		s.shards[i].mu.RUnlock()
	}
	return n
}
