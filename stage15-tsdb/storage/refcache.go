package storage

import (
	"hash/maphash"
	"math"
	"sync"
)

// RefCache maps a series' key as a writer saw it (the raw label bytes of a
// remote-write request, say) to the storage engine's ref for that series,
// so that a series written again is appended by ref: no label set is built,
// hashed or looked up in the index. A ref the engine no longer knows
// (ErrUnknownRef, after head truncation) is simply replaced by the writer.
//
// The cache holds one entry per active series, so each entry counts. It
// keeps not the key (a remote-write series' labels are 100 bytes and more,
// which made the cache weigh more than the head's own series) but a
// 96-bit digest of it, two hashes with independent seeds, beside the ref
// in a 16-byte slot of an open-addressing table (refTable): about 34
// bytes a series, against 56 for a Go map from a 128-bit digest and 152
// for one from the key. Two keys share a digest with probability 2^-96
// per pair: for ten million keys, about 10^-15 in all. A 64-bit digest
// would not do: a million series give a 3·10^-8 chance of one collision,
// and a collision writes one series' samples into another.
//
// It is sharded so that concurrent writers rarely meet on a lock, and
// bounded: a shard at its share of max is cleared when a new key comes
// (the next write of each series pays one index lookup again).
type RefCache struct {
	seed   [2]maphash.Seed
	shards [refShards]refShard
	max    int
}

const refShards = 64

type refShard struct {
	mu sync.RWMutex
	t  refTable
}

// NewRefCache returns a cache of at most about max entries.
func NewRefCache(max int) *RefCache {
	return &RefCache{seed: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, max: max/refShards + 1}
}

// digest returns key's digest and its shard. The shard is taken from the
// top bits of the first hash, the table slot from its low bits.
func (c *RefCache) digest(key []byte) (refDigest, *refShard) {
	d := refDigest{maphash.Bytes(c.seed[0], key), uint32(maphash.Bytes(c.seed[1], key))}
	return d, &c.shards[d.a>>58]
}

// Get returns the ref cached for key, or 0.
func (c *RefCache) Get(key []byte) uint64 {
	d, s := c.digest(key)
	s.mu.RLock()
	ref := s.t.get(d)
	s.mu.RUnlock()
	return ref
}

// Set caches ref for key (0 removes it).
func (c *RefCache) Set(key []byte, ref uint64) {
	d, s := c.digest(key)
	s.mu.Lock()
	if ref == 0 {
		s.t.del(d)
	} else {
		// Only a new key can take the shard past its bound: an update
		// (a series whose ref changed) replaces its entry in place.
		if s.t.len() >= c.max && s.t.get(d) == 0 {
			s.t = refTable{}
		}
		s.t.set(d, ref)
	}
	s.mu.Unlock()
}

// Len is the number of cached refs.
func (c *RefCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.t.len()
		s.mu.RUnlock()
	}
	return n
}

// refDigest is a key's 96-bit digest.
type refDigest struct {
	a uint64
	b uint32
}

// refSlot is one entry: a digest and a ref below 2^32 (ref 0: empty).
type refSlot struct {
	a   uint64
	b   uint32
	ref uint32
}

// refTable maps digests to refs: open addressing with linear probing,
// grown to twice the size when 3/4 full, deletion by shifting the probe
// chain back (no tombstones). A ref of 2^32 or more (a head that has
// created four billion series) goes to big, a map.
type refTable struct {
	slots []refSlot
	n     int
	big   map[refDigest]uint64
}

func (t *refTable) len() int { return t.n + len(t.big) }

// find returns the slot of d, or the empty slot ending its probe chain.
func (t *refTable) find(d refDigest) int {
	mask := len(t.slots) - 1
	for i := int(d.a) & mask; ; i = (i + 1) & mask {
		if s := &t.slots[i]; s.ref == 0 || s.a == d.a && s.b == d.b {
			return i
		}
	}
}

func (t *refTable) get(d refDigest) uint64 {
	if t.n > 0 {
		if s := t.slots[t.find(d)]; s.ref != 0 {
			return uint64(s.ref)
		}
	}
	if t.big != nil {
		return t.big[d]
	}
	return 0
}

func (t *refTable) set(d refDigest, ref uint64) {
	if ref > math.MaxUint32 {
		t.del(d)
		if t.big == nil {
			t.big = map[refDigest]uint64{}
		}
		t.big[d] = ref
		return
	}
	delete(t.big, d)
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	i := t.find(d)
	if t.slots[i].ref == 0 {
		t.n++
	}
	t.slots[i] = refSlot{a: d.a, b: d.b, ref: uint32(ref)}
}

func (t *refTable) grow() {
	old := t.slots
	t.slots = make([]refSlot, max(2*len(old), 16))
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.ref == 0 {
			continue
		}
		i := int(s.a) & mask
		for t.slots[i].ref != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// del removes d. The entries after it in its probe chain that would no
// longer be found from their home slot move back into the hole.
func (t *refTable) del(d refDigest) {
	delete(t.big, d)
	if t.n == 0 {
		return
	}
	i := t.find(d)
	if t.slots[i].ref == 0 {
		return
	}
	mask := len(t.slots) - 1
	t.slots[i] = refSlot{}
	t.n--
	for j := (i + 1) & mask; t.slots[j].ref != 0; j = (j + 1) & mask {
		home := int(t.slots[j].a) & mask
		// The entry at j stays if its home lies cyclically in (i, j].
		if (j > i && home > i && home <= j) || (j < i && (home > i || home <= j)) {
			continue
		}
		t.slots[i], t.slots[j] = t.slots[j], refSlot{}
		i = j
	}
}
