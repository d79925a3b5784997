// Package tsm is an InfluxDB-style Time-Structured Merge tree storage engine:
// writes go to a write-ahead log (stage04's) and an in-memory cache; a full
// cache is snapshotted and written out as an immutable TSM file of
// compressed, per-key blocks with a sorted index and a bloom filter; files
// are merged by leveled compaction (four files of level N make one of level
// N+1) and a full compaction once writes have gone cold; deletes are
// tombstones that compaction applies.
//
// Data model (InfluxDB's): a point has a measurement, tags and fields. Each
// field of each series is stored under its own key,
//
//	<measurement>[,<tag>=<value>…]#!~#<field>
//
// with the measurement and tags escaped as in line protocol and the tags
// sorted by name (SeriesKey, FieldKey). A key holds values of one type:
// float, integer, unsigned, boolean or string.
//
// One concept per file:
//
//	key.go        series and field keys
//	values.go     a key's values as columns; sort, dedup (newest wins), merge
//	block.go      one compressed block of ≤ 1,000 values with its CRC
//	bloom.go      the per-file bloom filter of keys
//	writer.go     streaming TSM file writer (blocks, index, bloom, footer)
//	reader.go     mmapped TSM file reader: binary search over the index
//	tombstone.go  per-file tombstones (key, time range) beside each TSM file
//	cache.go      the in-memory cache and its snapshot
//	walrecord.go  the engine's WAL record types (write, delete)
//	manifest.go   the list of live files, replaced atomically
//	engine.go     Open, Write, Delete, Flush, Close: the write path
//	query.go      reads merging files, snapshot and cache; key listing
//	compact.go    the level planner, full compaction, the merge
//
// The README of stage07-tsm documents the file formats byte by byte.
package tsm
