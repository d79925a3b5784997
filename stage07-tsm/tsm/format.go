package tsm

// A TSM file, byte by byte (integers little-endian):
//
//	header   0   4  magic "TSM7"
//	         4   1  version (2; version 1 stored float blocks as stage03 chunks)
//	         5   1  level: 1 for a cache flush, L+1 for a level compaction of
//	                level-L files, ≥ 4 for a full compaction
//	blocks   6   …  blocks (block.go), each key's blocks together, in key order
//	index    …      per key, in ascending byte order of the keys:
//	                  u16 key length | key | u8 type | u16 block count |
//	                  count × (i64 min time | i64 max time | u64 offset | u32 size)
//	offsets  …      u32 per key: where its index entry starts, relative to the
//	                index: binary search jumps straight into the mmapped index
//	                without parsing it at open (InfluxDB builds this array when
//	                it loads a file; here it is stored)
//	bloom    …      the bloom filter of the keys (bloom.go)
//	footer   36 bytes at the end:
//	                u64 index offset | u64 offsets offset | u64 bloom offset |
//	                u32 key count | u32 CRC-32C of index…footer (up to here) |
//	                magic "TSM7"
//
// Each block carries its own CRC (checked when a query reads it); the index,
// offsets, bloom filter and footer are covered by the footer's CRC, checked
// once when the file is opened.
const (
	fileMagic   = "TSM7"
	fileVersion = 2 // 2: float blocks hold a timestamp column and a values-only XOR stream
	headerSize  = 6
	footerSize  = 36
	entrySize   = 28 // min, max, offset, size of one block in the index

	// maxBlocksPerKey: the index stores a key's block count in 16 bits.
	maxBlocksPerKey = 1<<16 - 1
)

// indexEntry locates one block of a key.
type indexEntry struct {
	MinTime, MaxTime int64
	Offset           uint64
	Size             uint32
}

// Overlaps reports whether the block may hold values in [min, max].
func (e indexEntry) Overlaps(min, max int64) bool { return e.MinTime <= max && e.MaxTime >= min }
