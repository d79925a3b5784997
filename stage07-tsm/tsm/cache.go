package tsm

import (
	"fmt"
	"slices"
	"sync"
)

// cache holds the writes that are in the WAL but not yet in a TSM file: per
// key, its values in arrival order (sorted and deduplicated when read or
// snapshotted, so the common in-order append costs one append).
//
// The engine keeps two: the live cache that takes writes, and, while a flush
// runs, the snapshot being written out. Swapping them is the whole trick
// that lets writes continue during a flush.
type cache struct {
	mu      sync.RWMutex
	entries map[string]*entry
	size    int64 // bytes charged: key bytes + 16 per value (+ string bytes)
	values  int64
}

type entry struct {
	mu       sync.Mutex // concurrent readers deduplicate in place
	v        Values
	unsorted bool // an append arrived out of order or duplicated a time
}

// entryOverhead is what the cache charges per key beyond its bytes: the map
// slot, the entry and its slice headers.
const entryOverhead = 128

// newCache returns an empty cache.
func newCache() *cache { return &cache{entries: make(map[string]*entry)} }

// Size is the memory the cache accounts for, in bytes.
func (c *cache) Size() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.size
}

// Len is the number of values in the cache (duplicates included until
// deduplicated); Keys the number of keys.
func (c *cache) Len() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.values
}

func (c *cache) Keys() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Type is the type of key in the cache, 0 if absent.
func (c *cache) Type(key string) Type {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.entries[key]; e != nil {
		return e.v.Type
	}
	return 0
}

// checkTypes returns an error if a key of b exists in c with another type.
func (c *cache) checkTypes(b *Batch) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, k := range b.keys {
		if e := c.entries[k]; e != nil && e.v.Type != b.vals[i].Type {
			return fmt.Errorf("%w: %s is %v, write has %v", ErrFieldType, k, e.v.Type, b.vals[i].Type)
		}
	}
	return nil
}

// Write adds a batch. Types must have been checked (checkTypes): the cache
// trusts its caller so that the check and the WAL record happen before
// anything is applied.
func (c *cache) Write(b *Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range b.keys {
		v := &b.vals[i]
		e := c.entries[k]
		if e == nil {
			e = &entry{v: Values{Type: v.Type}}
			c.entries[k] = e
			c.size += int64(len(k)) + entryOverhead
		}
		if n := e.v.Len(); n > 0 && v.T[0] <= e.v.T[n-1] {
			e.unsorted = true
		} else if !v.sorted() {
			e.unsorted = true
		}
		e.v.appendValues(v)
		c.size += int64(v.size())
		c.values += int64(v.Len())
	}
}

// Delete removes the values of keys in [min, max].
func (c *cache) Delete(keys []string, min, max int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		e := c.entries[k]
		if e == nil {
			continue
		}
		e.dedup()
		before := e.v.Len()
		e.v.exclude(min, max)
		c.values -= int64(before - e.v.Len())
		if e.v.Len() == 0 {
			delete(c.entries, k)
		}
	}
}

func (e *entry) dedup() {
	if e.unsorted {
		e.v.deduplicate()
		e.unsorted = false
	}
}

// Read appends a copy of key's values in [min, max] (sorted, newest write
// wins) to dst, which must be empty.
func (c *cache) Read(key []byte, min, max int64, dst *Values) {
	c.mu.RLock()
	e := c.entries[string(key)]
	c.mu.RUnlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	// A write may append to e.v concurrently under c.mu (not e.mu); take
	// c.mu for reading while copying so that the columns are consistent.
	c.mu.RLock()
	e.dedup()
	v := e.v
	v.window(min, max)
	dst.Type = v.Type
	dst.T = append(dst.T[:0], v.T...)
	dst.V = append(dst.V[:0], v.V...)
	dst.S = append(dst.S[:0], v.S...)
	c.mu.RUnlock()
	e.mu.Unlock()
}

// sortedKeys returns the cache's keys in ascending order.
func (c *cache) sortedKeys() []string {
	c.mu.RLock()
	keys := make([]string, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	c.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

// snapshotValues returns key's values, sorted and deduplicated, for a snapshot
// (which no longer takes writes, so no copy is needed).
func (c *cache) snapshotValues(key string) *Values {
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dedup()
	return &e.v
}

// keysWithPrefix lists the cache's keys starting with prefix.
func (c *cache) keysWithPrefix(prefix string, dst map[string]Type) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, e := range c.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			dst[k] = e.v.Type
		}
	}
}
