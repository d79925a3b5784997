package index

// hashTable finds series by the hash of their label set
// (model.Labels.Hash): an open-addressing table with linear probing whose
// slots are 12 bytes, the 64-bit hash and the series ID. Two label sets
// with the same hash are two entries; a lookup compares the labels of
// every entry with the hash (the caller's match), so a collision costs a
// comparison, never a wrong answer.
//
// Why not a map[uint64]SeriesID: the index holds one entry per series, and
// a Go map's slots for it are 16 bytes (the ID is padded), about 31 bytes a
// series at a million series counting the map's free slots, against 25
// here. The table is cut into 16 shards by the hash's top bits, each grown
// on its own, so a growth rehashes a sixteenth of the series while the
// index's write lock is held, not all of them.
//
// Hash 0 is stored as 1, so an all-zero slot is empty. Removal shifts the
// rest of the probe chain back into the hole (no tombstones).
type hashTable struct {
	shards [hashShards]hashShard
}

const hashShards = 16

type hashShard struct {
	slots []hashSlot // power-of-two length, or nil
	n     int
}

// hashSlot is an entry; the hash is split in two so the slot is 12 bytes.
type hashSlot struct {
	lo, hi uint32
	id     SeriesID
}

func (s hashSlot) hash() uint64 { return uint64(s.hi)<<32 | uint64(s.lo) }

func storedHash(h uint64) uint64 { return h | b2u(h == 0) }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (t *hashTable) shard(h uint64) *hashShard { return &t.shards[h>>60] }

// len is the number of entries.
func (t *hashTable) len() int {
	n := 0
	for i := range t.shards {
		n += t.shards[i].n
	}
	return n
}

// bytes is the memory the slots take.
func (t *hashTable) bytes() uint64 {
	var n uint64
	for i := range t.shards {
		n += uint64(cap(t.shards[i].slots)) * 12
	}
	return n
}

// find returns the first ID with hash h for which match is true.
func (t *hashTable) find(h uint64, match func(SeriesID) bool) (SeriesID, bool) {
	h = storedHash(h)
	s := t.shard(h)
	if s.n == 0 {
		return 0, false
	}
	mask := len(s.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		e := s.slots[i]
		switch {
		case e.lo == 0 && e.hi == 0:
			return 0, false
		case e.hash() == h && match(e.id):
			return e.id, true
		}
	}
}

// add adds an entry (the caller has checked that the series is new).
func (t *hashTable) add(h uint64, id SeriesID) {
	h = storedHash(h)
	s := t.shard(h)
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	s.put(hashSlot{lo: uint32(h), hi: uint32(h >> 32), id: id})
	s.n++
}

// put stores e in the first empty slot of its probe chain.
func (s *hashShard) put(e hashSlot) {
	mask := len(s.slots) - 1
	i := int(e.lo) & mask
	for s.slots[i].lo != 0 || s.slots[i].hi != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = e
}

func (s *hashShard) grow() {
	old := s.slots
	s.slots = make([]hashSlot, max(2*len(old), 8))
	for _, e := range old {
		if e.lo != 0 || e.hi != 0 {
			s.put(e)
		}
	}
}

// del removes the entry of series id with hash h, if there is one.
func (t *hashTable) del(h uint64, id SeriesID) {
	h = storedHash(h)
	s := t.shard(h)
	if s.n == 0 {
		return
	}
	mask := len(s.slots) - 1
	i := int(h) & mask
	for {
		e := s.slots[i]
		if e.lo == 0 && e.hi == 0 {
			return
		}
		if e.hash() == h && e.id == id {
			break
		}
		i = (i + 1) & mask
	}
	s.slots[i] = hashSlot{}
	s.n--
	for j := (i + 1) & mask; s.slots[j].lo != 0 || s.slots[j].hi != 0; j = (j + 1) & mask {
		home := int(s.slots[j].lo) & mask
		// The entry at j stays if its home lies cyclically in (i, j].
		if (j > i && home > i && home <= j) || (j < i && (home > i || home <= j)) {
			continue
		}
		s.slots[i], s.slots[j] = s.slots[j], hashSlot{}
		i = j
	}
}
