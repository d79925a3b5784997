package index

import (
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Select returns the IDs of the series that satisfy every matcher, as a new
// bitmap owned by the caller (ToArray gives them sorted). No matcher selects
// every series.
//
// The evaluation, as in Prometheus' PostingsForMatchers:
//
//  1. A matcher that does not match "" (region="us-east", env=~"prod.*")
//     selects the union of the postings of the values it matches. Equality
//     matchers cost one map lookup, so they go first, smallest postings first,
//     and their intersection stops as soon as it is empty.
//  2. A matcher that does match "" (env!="prod", env=~"|dev", env="") must also
//     keep the series without the label, so it is applied by subtraction:
//     result − union(postings of the values it rejects). With no matcher of
//     the first kind the result starts from all series.
//
// Once the result is smaller than the number of values a regular expression
// would have to be run on, the remaining matchers are checked on each
// candidate series' own label value instead (filterSeries).
func (ix *Index) Select(ms ...*Matcher) *roaring.Bitmap {
	ix.mu.RLock()
	defer ix.mu.RUnlock()

	var eq []*roaring.Bitmap // postings of equality matchers (not ours: never modify)
	var pos, sub []*Matcher  // other matchers that do not / do match ""
	for _, m := range ms {
		ln := ix.names[m.name]
		switch {
		case m.Matches(""):
			if ln != nil { // no series has the label: all match, nothing to subtract
				sub = append(sub, m)
			}
		case ln == nil:
			return roaring.New()
		case m.typ == MatchEqual:
			r, ok := ln.values[m.value]
			if !ok {
				return roaring.New()
			}
			eq = append(eq, ix.pairs[r].postings)
		default:
			pos = append(pos, m)
		}
	}

	var res *roaring.Bitmap
	if len(eq) > 0 {
		slices.SortFunc(eq, func(a, b *roaring.Bitmap) int {
			ca, cb := a.GetCardinality(), b.GetCardinality()
			switch {
			case ca < cb:
				return -1
			case ca > cb:
				return 1
			}
			return 0
		})
		if len(eq) == 1 {
			res = eq[0].Clone()
		} else {
			res = roaring.And(eq[0], eq[1])
			for _, b := range eq[2:] {
				if res.IsEmpty() {
					return res
				}
				res.And(b)
			}
		}
	}
	for _, m := range pos {
		if res != nil && res.IsEmpty() {
			return res
		}
		ln := ix.names[m.name]
		if res != nil && ix.filterCheaper(res, ln) {
			res = ix.filterSeries(res, ln, m)
			continue
		}
		u, owned := ix.union(ln, m.pat, !m.negative())
		switch {
		case res != nil:
			res.And(u)
		case owned:
			res = u
		default:
			res = u.Clone()
		}
	}
	if res == nil {
		res = ix.all.Clone()
	}
	for _, m := range sub {
		if res.IsEmpty() {
			return res
		}
		ln := ix.names[m.name]
		if ix.filterCheaper(res, ln) {
			res = ix.filterSeries(res, ln, m)
			continue
		}
		u, _ := ix.union(ln, m.pat, m.negative())
		res.AndNot(u)
	}
	return res
}

// filterCheaper reports whether testing each of res's series is cheaper than
// testing each value of ln: both cost one match per item.
func (ix *Index) filterCheaper(res *roaring.Bitmap, ln *labelName) bool {
	return !ix.noSeriesFilter && res.GetCardinality() < uint64(len(ln.values))
}

// filterSeries keeps the series of res whose value of ln satisfies m.
func (ix *Index) filterSeries(res *roaring.Bitmap, ln *labelName, m *Matcher) *roaring.Bitmap {
	out := roaring.New()
	it := res.Iterator()
	for it.HasNext() {
		id := it.Next()
		v := ""
		for _, r := range ix.series.get(id) {
			if ix.pairs[r].name == ln {
				v = ix.pairs[r].value
				break
			}
		}
		if m.Matches(v) {
			out.Add(id)
		}
	}
	return out
}

// union returns the union of the postings of ln's values v for which
// pat.match(v) == want. owned is false when the result is a stored postings
// list, which the caller must not modify.
func (ix *Index) union(ln *labelName, pat *pattern, want bool) (bm *roaring.Bitmap, owned bool) {
	refs := ix.matchingRefs(ln, pat, want)
	switch len(refs) {
	case 0:
		return roaring.New(), true
	case 1:
		return ix.pairs[refs[0]].postings, false
	}
	bms := make([]*roaring.Bitmap, len(refs))
	for i, r := range refs {
		bms[i] = ix.pairs[r].postings
	}
	return roaring.FastOr(bms...), true
}

// matchingRefs returns the pairs of ln whose value v has pat.match(v) == want,
// without running a regular expression where the pattern's shape allows it:
// sets are looked up, prefixes are a range of the sorted values, and a
// general expression is only run on the values that start with its literal
// prefix.
func (ix *Index) matchingRefs(ln *labelName, pat *pattern, want bool) []uint32 {
	switch pat.kind {
	case patAny, patNonEmpty: // stored values are never ""
		if want {
			return ix.sortedRefs(ln)
		}
		return nil
	case patSet:
		if want {
			var refs []uint32
			for _, v := range pat.set {
				if r, ok := ln.values[v]; ok {
					refs = append(refs, r)
				}
			}
			return refs
		}
	case patPrefix, patGeneral:
		sorted := ix.sortedRefs(ln)
		lo, hi := ix.prefixRange(sorted, pat.prefix)
		if pat.kind == patPrefix {
			if want {
				return sorted[lo:hi]
			}
			return append(slices.Clip(sorted[:lo]), sorted[hi:]...)
		}
		var refs []uint32
		if !want { // values outside the prefix range cannot match
			refs = append(refs, sorted[:lo]...)
		}
		for _, r := range sorted[lo:hi] {
			if pat.re.MatchString(ix.pairs[r].value) == want {
				refs = append(refs, r)
			}
		}
		if !want {
			refs = append(refs, sorted[hi:]...)
		}
		return refs
	}
	var refs []uint32
	for _, r := range ix.sortedRefs(ln) {
		if pat.match(ix.pairs[r].value) == want {
			refs = append(refs, r)
		}
	}
	return refs
}

// prefixRange returns the range of sorted (pair references in value order)
// whose values start with prefix.
func (ix *Index) prefixRange(sorted []uint32, prefix string) (lo, hi int) {
	if prefix == "" {
		return 0, len(sorted)
	}
	lo, _ = slices.BinarySearchFunc(sorted, prefix, func(r uint32, p string) int {
		return strings.Compare(ix.pairs[r].value, p)
	})
	n, _ := slices.BinarySearchFunc(sorted[lo:], prefix, func(r uint32, p string) int {
		if strings.HasPrefix(ix.pairs[r].value, p) {
			return -1
		}
		return 1
	})
	return lo, lo + n
}
