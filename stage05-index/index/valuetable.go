package index

import "hash/maphash"

// valueTable maps the values of one label name to their pair references.
// It is an open-addressing hash table with linear probing whose slots are
// 8 bytes, a 32-bit tag of the value's hash and the pair reference; the
// value itself lives in the pair table, where internPair put it.
//
// Why not a map[string]uint32: a label such as instance brings a new value
// with nearly every new series, and for each the map was probed twice (a
// lookup that misses, then the insert), each probe a cache miss in a table
// of 24-byte entries. find returns the slot an insert goes to, so a new
// value costs one probe sequence, in a table a third of the size. A probe
// compares tags, and only on a tag match the value in the pair table.
//
// Reads (get, len, each) are safe under the index's read lock; find,
// insertAt and del need the write lock.
type valueTable struct {
	slots []valueSlot // power-of-two length, or nil
	n     int         // live entries
	used  int         // live and deleted slots: probes stop only at empty ones
}

type valueSlot struct {
	tag uint32
	ref uint32 // pair reference + 1; 0 empty, deletedSlot a removed entry
}

const deletedSlot = ^uint32(0)

var valueSeed = maphash.MakeSeed()

func hashValue(v string) uint64 { return maphash.String(valueSeed, v) }

func (t *valueTable) len() int { return t.n }

// find returns the slot holding value v (found) or, if v is absent, the
// slot an insert of v should use (the first deleted slot on its probe
// sequence, else the empty slot that ends it). The table must have a free
// slot: insertAt keeps it so.
func (t *valueTable) find(pt *pairTable, v string) (slot int, h uint64, found bool) {
	h = hashValue(v)
	if t.slots == nil {
		t.grow(pt, 8)
	}
	mask := len(t.slots) - 1
	tag := uint32(h >> 32)
	free := -1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		switch {
		case s.ref == 0:
			if free < 0 {
				free = i
			}
			return free, h, false
		case s.ref == deletedSlot:
			if free < 0 {
				free = i
			}
		case s.tag == tag && pt.at(s.ref-1).value == v:
			return i, h, true
		}
	}
}

// get returns the pair reference of value v.
func (t *valueTable) get(pt *pairTable, v string) (uint32, bool) {
	if t.n == 0 {
		return 0, false
	}
	h := hashValue(v)
	mask := len(t.slots) - 1
	tag := uint32(h >> 32)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		switch {
		case s.ref == 0:
			return 0, false
		case s.ref != deletedSlot && s.tag == tag && pt.at(s.ref-1).value == v:
			return s.ref - 1, true
		}
	}
}

// insertAt stores ref in slot, which find returned for the value of hash
// h, and grows the table (or clears its deleted slots) when it is 3/4 full.
func (t *valueTable) insertAt(pt *pairTable, slot int, h uint64, ref uint32) {
	if t.slots[slot].ref == 0 {
		t.used++
	}
	t.slots[slot] = valueSlot{tag: uint32(h >> 32), ref: ref + 1}
	t.n++
	if 4*t.used > 3*len(t.slots) {
		size := len(t.slots)
		if 2*t.n > size { // mostly live: grow; else only clear the deleted slots
			size *= 2
		}
		t.grow(pt, size)
	}
}

// set inserts value v with reference ref (v absent).
func (t *valueTable) set(pt *pairTable, v string, ref uint32) {
	slot, h, _ := t.find(pt, v)
	t.insertAt(pt, slot, h, ref)
}

// del removes value v.
func (t *valueTable) del(pt *pairTable, v string) {
	if t.n == 0 {
		return
	}
	if slot, _, found := t.find(pt, v); found {
		t.slots[slot].ref = deletedSlot
		t.n--
	}
}

// each calls fn with every pair reference, in no particular order.
func (t *valueTable) each(fn func(ref uint32)) {
	for _, s := range t.slots {
		if s.ref != 0 && s.ref != deletedSlot {
			fn(s.ref - 1)
		}
	}
}

// grow rehashes the live entries into size slots (a power of two).
func (t *valueTable) grow(pt *pairTable, size int) {
	old := t.slots
	t.slots = make([]valueSlot, size)
	t.used = t.n
	mask := size - 1
	for _, s := range old {
		if s.ref == 0 || s.ref == deletedSlot {
			continue
		}
		h := hashValue(pt.at(s.ref - 1).value)
		i := int(h) & mask
		for t.slots[i].ref != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = valueSlot{tag: uint32(h >> 32), ref: s.ref}
	}
}
