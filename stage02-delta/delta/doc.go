// Package delta compresses one time series (a timestamp column and a value
// column) with the integer techniques every TSDB builds on: delta and
// delta-of-delta coding, zig-zag, LEB128 varints and Simple-8b word packing.
//
// Why it works: adjacent samples of a series are alike. A scrape every 10 s
// gives timestamps whose deltas are all 10000 (ms) and whose deltas of deltas
// are all 0; a gauge moves by small steps, so value differences are small
// integers once the values are written as decimal mantissas. Small integers
// then take a few bits each instead of 64.
//
// The pipeline, one file per step:
//
//	timestamps.go  t0, then zigzag(delta-of-delta) for every later point
//	values.go      mantissa m = v·10^E (one shared E), then zigzag(m[i]-m[i-1]);
//	               values that do not round-trip (NaN, ±Inf, -0, long fractions)
//	               become exceptions stored as raw bits
//	zigzag.go      signed -> unsigned so that small negatives stay small
//	varint.go      LEB128: 7 bits per byte, high bit = "more bytes follow"
//	simple8b.go    as many small integers as fit into one 64-bit word
//	column.go      per column, whichever of varint and Simple-8b is smaller
//	file.go        the compressed file: header (count, CRC-32C of the raw
//	               bytes), timestamp column, value column
//	checksum.go    the CRC-32C of the original raw point file
//	stats.go       the figures the CLI prints
//
// Decompress checks the structure of its input and returns errors wrapping
// ErrCorrupt; Verify compares the checksum stored in the header with decoded
// (or re-read) points. Nothing in this package panics on bad input.
package delta

import "errors"

// ErrCorrupt means the compressed input is malformed or truncated.
var ErrCorrupt = errors.New("delta: corrupt input")

// ErrChecksum means the points do not match the checksum stored in the
// compressed file's header.
var ErrChecksum = errors.New("delta: checksum mismatch")
