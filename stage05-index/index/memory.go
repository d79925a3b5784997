package index

import "unsafe"

// Memory is the heap an index holds, by part, in bytes, computed from its
// structures (the capacities of what it allocated), not measured: what a
// series costs in the index, and where. stage06's head adds its own parts
// and checks the sum against the measured heap (BenchmarkHeadMemory).
type Memory struct {
	// SeriesRefs: every series' label-pair references, 4 bytes a label,
	// and the page offsets (seriesStore).
	SeriesRefs uint64
	// Pairs: the pair table, one entry per distinct name=value. A pair
	// that one series has (instance=…) keeps that series' ID in its entry.
	Pairs uint64
	// Postings: the roaring bitmaps of the pairs more than one series has,
	// and that of all series, as roaring estimates them.
	Postings uint64
	// ValueTables: the per-name hash tables from value to pair.
	ValueTables uint64
	// Strings: the copies of names and values: the arena blocks that
	// hold one the index still has, and the longer strings. A deleted
	// value's bytes are counted until the last value of its block goes,
	// when the block is left to the garbage collector.
	Strings uint64
	// Names: the label-name entries and the sorted name list.
	Names uint64
	// Hashes: the table from label-set hash to series (hashtable.go),
	// HashEntries entries, one per series. An index read from a file
	// builds it on first use: until then Hashes is the hashes read from
	// the file, 8 bytes a series, and HashEntries 0.
	Hashes      uint64
	HashEntries int
}

// Total is the sum of the parts.
func (m Memory) Total() uint64 {
	return m.SeriesRefs + m.Pairs + m.Postings + m.ValueTables + m.Strings + m.Names + m.Hashes
}

// Memory computes the index's heap by part.
func (ix *Index) Memory() Memory {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := Memory{
		SeriesRefs: ix.series.bytes(),
		Postings:   ix.all.GetSizeInBytes(),
		Strings:    ix.strs.bytes(),
	}
	if ix.hashesPending.Load() {
		// a first lookup may be filling the table right now
		m.Hashes = ix.pendingBytes
	} else {
		m.Hashes, m.HashEntries = ix.hashes.bytes(), ix.hashes.len()
	}
	for _, pg := range ix.pairs.pages {
		m.Pairs += uint64(cap(pg)) * uint64(unsafe.Sizeof(pair{}))
	}
	m.Pairs += uint64(cap(ix.pairs.pages)) * uint64(unsafe.Sizeof([]pair{}))
	for i := range ix.pairs.len() {
		if p := ix.pairs.at(uint32(i)); p.postings != nil {
			m.Postings += p.postings.GetSizeInBytes()
		}
	}
	for _, ln := range ix.names {
		m.ValueTables += uint64(cap(ln.values.slots)) * uint64(unsafe.Sizeof(valueSlot{}))
		m.Names += uint64(unsafe.Sizeof(labelName{}))
	}
	m.Names += uint64(cap(ix.nameList)) * uint64(unsafe.Sizeof(""))
	return m
}
