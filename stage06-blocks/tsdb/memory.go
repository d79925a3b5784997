package tsdb

import (
	"unsafe"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// HeadMemory is the heap the head's series hold, by part, in bytes,
// computed from the structures (what was allocated for them), not
// measured. BenchmarkHeadMemory reports it per series beside the measured
// heap, and TestHeadMemoryAddsUp checks that the parts add up to it.
type HeadMemory struct {
	Series int // series in the head
	// MemSeries: the memSeries structs (allocated in slabs of 4 KiB).
	MemSeries uint64
	// OpenChunks: the open chunks' buffers (32 bytes from a shared slab
	// for a chunk that has not grown, its own buffer after that).
	OpenChunks uint64
	// SeriesTables: the two tables from head ref and index ID to series.
	SeriesTables uint64
	// Other: what a series holds beside its struct: the references of its
	// chunks in the head-chunks file, its rarely used parts (seriesExtra).
	Other uint64
	// Unmapped: full chunks held in memory until the head-chunks file
	// takes them (a full disk, or their turn in the chunk write queue),
	// with the slices that hold them.
	Unmapped uint64
	// Index is the head's label index (stage05), by part; its map from
	// label-set hash to series is not computed (index.Memory).
	Index index.Memory
}

// Total is the sum of the computed parts.
func (m HeadMemory) Total() uint64 {
	return m.MemSeries + m.OpenChunks + m.SeriesTables + m.Other + m.Unmapped + m.Index.Total()
}

// Memory computes the heap of the head's series by part. It locks each
// series in turn: a head being appended to gets a figure of about when
// the call ran.
func (h *Head) Memory() HeadMemory {
	h.createMu.Lock()
	n := h.byID.len()
	// Slabs are whole 4 KiB objects (seriesSlab); the last one's unused
	// entries count too.
	const slabBytes = 4096
	slabs := uint64((n + len(h.slab) + seriesSlab - 1) / seriesSlab)
	m := HeadMemory{Series: n, MemSeries: slabs * slabBytes}
	m.SeriesTables = h.byRef.bytes() + h.byID.bytes()
	h.unlockCreate()
	h.byID.each(func(s *memSeries) bool {
		s.mu.Lock()
		if s.openN > 0 {
			if c := uint64(cap(s.open.Bytes())); c == openChunkSize {
				m.OpenChunks += c
			} else {
				// A grown buffer, and the slab piece it started in (kept
				// while its neighbours' are).
				m.OpenChunks += c + openChunkSize
			}
		}
		m.Other += uint64(cap(s.mmapped)) * uint64(unsafe.Sizeof(chunks.Meta{}))
		if x := s.extra; x != nil {
			m.Other += uint64(unsafe.Sizeof(seriesExtra{}))
			m.Unmapped += uint64(cap(x.unmapped)) * uint64(unsafe.Sizeof(memChunk{}))
			for _, c := range x.unmapped {
				m.Unmapped += uint64(cap(c.data))
			}
		}
		s.mu.Unlock()
		return true
	})
	m.Index = h.ix.Memory()
	return m
}

// bytes is the memory the table holds: its directory and pages.
func (t *seriesTable) bytes() uint64 {
	dp := t.dir.Load()
	if dp == nil {
		return 0
	}
	n := uint64(cap(*dp))*8 + uint64(cap(t.counts))*8
	for _, pg := range *dp {
		if pg != nil {
			n += uint64(unsafe.Sizeof(seriesPage{}))
		}
	}
	return n
}
