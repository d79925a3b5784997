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

type keyShard struct {
	mu sync.RWMutex
	m  map[string]struct{}
	_  [40]byte // a shard per cache line: readers' lock words do not share one
}

// NewKeySet returns a set of about max keys.
func NewKeySet(max int) *KeySet {
	s := &KeySet{seed: maphash.MakeSeed(), max: max/keyShards + 1}
	for i := range s.shards {
		s.shards[i].m = map[string]struct{}{}
	}
	return s
}

func (s *KeySet) shard(key []byte) *keyShard {
	return &s.shards[maphash.Bytes(s.seed, key)%keyShards]
}

// Has reports whether key is in the set.
func (s *KeySet) Has(key []byte) bool {
	sh := s.shard(key)
	sh.mu.RLock()
	_, ok := sh.m[string(key)]
	sh.mu.RUnlock()
	return ok
}

// Add puts key in the set (a copy).
func (s *KeySet) Add(key []byte) {
	sh := s.shard(key)
	sh.mu.Lock()
	if len(sh.m) >= s.max {
		clear(sh.m)
	}
	sh.m[string(key)] = struct{}{}
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
