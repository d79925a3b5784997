// Package index is the inverted index of the course: it maps every label pair
// (name=value) of every series to the set of series IDs that carry it, so that
// "which series have region=us-east and env=production" is a set intersection
// instead of a scan over all series.
//
// The pieces, one per file:
//
//   - index.go: the Index type: series IDs, Add / Lookup / Delete / Labels,
//     LabelNames / LabelValues, and the concurrency rules.
//   - series.go: compact per-series storage (label-pair references in pages).
//   - postings.go: Select, the evaluation of matchers as set operations on
//     roaring bitmaps (smallest first, stop when empty).
//   - matcher.go, pattern.go: Prometheus label matchers and the fast paths of
//     their regular expressions.
//   - selector.go: the text form of matchers, metric{a="b",c=~"d.*"} and
//     region=us-east AND env=production.
//   - symbols.go, file.go, roaring.go: the on-disk format (see README.md,
//     "File format") and the check of the bitmaps in it.
//   - stats.go: counts and sizes for the demo and the /status/tsdb page.
//
// Series IDs are uint32 (SeriesID) because roaring bitmaps hold uint32; they
// are allocated monotonically from 0 and never reused, so an ID names one
// series for the lifetime of an index and its files.
package index

import "errors"

// Errors callers branch on.
var (
	// ErrCorrupt wraps every error about a malformed index file.
	ErrCorrupt = errors.New("index: corrupt file")
	// ErrLimit is returned when the index cannot grow: all 2^32 series IDs
	// have been used.
	ErrLimit = errors.New("index: series ID space exhausted")
	// ErrEmptyLabels is returned by Add for a label set without labels: such
	// a series could never be selected (every selector needs a non-empty
	// matcher), so it is refused, as Prometheus refuses it.
	ErrEmptyLabels = errors.New("index: empty label set")
)

// SeriesID identifies a series in an Index. It is an alias of uint32 so that
// the []uint32 of roaring's ToArray is a []SeriesID.
type SeriesID = uint32
