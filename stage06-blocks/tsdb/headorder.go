package tsdb

import (
	"math"
	"slices"
)

// headOrder remembers the label order of head series from an earlier
// query, so that the next query over them sorts integers instead of label
// sets. A head's index IDs are never reused and a series' labels never
// change, so positions taken from one sorted result stay a valid order for
// those IDs for as long as the head lives: rank[id] is the position of
// series id in that result (unranked: math.MaxUint32). Series the table
// does not rank (created since, or not in that result) are sorted by
// their labels and merged in.
//
// The table is immutable once published; a query that finds too much of
// its result unranked builds a new one from its own sorted result.
type headOrder struct {
	head *Head
	rank []uint32 // by index ID
}

const unranked = math.MaxUint32

// minRanked is the smallest result worth a table: below it, sorting label
// sets is cheap anyway.
const minRanked = 1024

// sortHead sorts the head's entries es, whose index IDs are ids, by label
// set, as sortByLabels does, using and maintaining the DB's head order.
func (db *DB) sortHead(es []entry, ids []uint32) []entry {
	if len(es) < minRanked {
		return sortByLabels(es)
	}
	t := db.headOrder.Load()
	if t == nil || t.head != db.head {
		t = nil
	}
	// Ranked entries as rank<<32 | position in es, sorted as integers;
	// the rest are sorted by labels.
	keys := make([]uint64, 0, len(es))
	var rest []entry
	for i, id := range ids {
		if t != nil && int(id) < len(t.rank) && t.rank[id] != unranked {
			keys = append(keys, uint64(t.rank[id])<<32|uint64(i))
		} else {
			rest = append(rest, es[i])
		}
	}
	if len(rest) > len(es)/8 {
		out, order := sortByLabelsOrder(es)
		db.storeHeadOrder(order, ids)
		return out
	}
	slices.Sort(keys)
	ranked := make([]entry, len(keys))
	for k, key := range keys {
		ranked[k] = es[uint32(key)]
	}
	if len(rest) == 0 {
		return ranked
	}
	return mergeSorted(ranked, sortByLabels(rest))
}

// storeHeadOrder publishes the order of a sorted result: order[r] is the
// position in ids of the series at rank r.
func (db *DB) storeHeadOrder(order, ids []uint32) {
	rank := make([]uint32, int(slices.Max(ids))+1)
	for i := range rank {
		rank[i] = unranked
	}
	for r, i := range order {
		rank[ids[i]] = uint32(r)
	}
	db.headOrder.Store(&headOrder{head: db.head, rank: rank})
}

// mergeSorted merges two lists sorted by label set with no set in both.
func mergeSorted(a, b []entry) []entry {
	out := make([]entry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].lset.Compare(b[0].lset) < 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
