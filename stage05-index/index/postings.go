package index

import (
	"cmp"
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

	var eq []*pair          // pairs of equality matchers (their postings are not ours: never modify)
	var pos, sub []*Matcher // other matchers that do not / do match ""
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
			r, ok := ln.values.get(&ix.pairs, m.value)
			if !ok {
				return roaring.New()
			}
			eq = append(eq, ix.pairs.at(r))
		default:
			pos = append(pos, m)
		}
	}

	var res *roaring.Bitmap
	if len(eq) > 0 {
		slices.SortFunc(eq, func(a, b *pair) int { return cmp.Compare(a.card(), b.card()) })
		switch {
		case eq[0].postings == nil:
			// The smallest has one series: the result is it or nothing.
			res = roaring.New()
			if !slices.ContainsFunc(eq[1:], func(p *pair) bool { return !p.contains(eq[0].one) }) {
				res.Add(eq[0].one)
			}
		case len(eq) == 1:
			res = eq[0].postings.Clone()
		default:
			res = roaring.And(eq[0].postings, eq[1].postings)
			for _, p := range eq[2:] {
				if res.IsEmpty() {
					return res
				}
				res.And(p.postings)
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
	return !ix.noSeriesFilter && res.GetCardinality() < uint64(ln.values.len())
}

// filterSeries keeps the series of res whose value of ln satisfies m.
func (ix *Index) filterSeries(res *roaring.Bitmap, ln *labelName, m *Matcher) *roaring.Bitmap {
	out := roaring.New()
	it := res.Iterator()
	for it.HasNext() {
		id := it.Next()
		v := ""
		for _, r := range ix.series.get(id) {
			if ix.pairs.at(r).name == ln {
				v = ix.pairs.at(r).value
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
	if len(refs) == 1 && ix.pairs.at(refs[0]).postings != nil {
		return ix.pairs.at(refs[0]).postings, false
	}
	// The IDs of pairs of one series are collected into one more bitmap.
	var bms []*roaring.Bitmap
	var ones []SeriesID
	for _, r := range refs {
		if p := ix.pairs.at(r); p.postings != nil {
			bms = append(bms, p.postings)
		} else {
			ones = append(ones, p.one)
		}
	}
	if len(ones) > 0 {
		slices.Sort(ones)
		bm := roaring.New()
		bm.AddMany(ones)
		if len(bms) == 0 {
			return bm, true
		}
		bms = append(bms, bm)
	}
	if len(bms) == 0 {
		return roaring.New(), true
	}
	return roaring.FastOr(bms...), true
}

// The postings of a pair: one ID, or a bitmap once a second series has the
// pair (see pair).

// add adds series id, which the pair does not have yet.
func (p *pair) add(id SeriesID) {
	if p.postings == nil {
		p.postings = roaring.BitmapOf(p.one, id)
		p.one = 0
		return
	}
	p.postings.Add(id)
}

// remove removes series id, which the pair has, and reports whether the
// pair is left without series.
func (p *pair) remove(id SeriesID) (empty bool) {
	if p.postings == nil {
		return true
	}
	p.postings.Remove(id)
	if p.postings.GetCardinality() == 1 {
		p.postings, p.one = nil, p.postings.Minimum()
	}
	return false
}

// card is the number of series with the pair.
func (p *pair) card() uint64 {
	if p.postings == nil {
		return 1
	}
	return p.postings.GetCardinality()
}

func (p *pair) contains(id SeriesID) bool {
	if p.postings == nil {
		return p.one == id
	}
	return p.postings.Contains(id)
}

// clone returns the postings as a new bitmap.
func (p *pair) clone() *roaring.Bitmap {
	if p.postings == nil {
		return roaring.BitmapOf(p.one)
	}
	return p.postings.Clone()
}

// within reports whether every series of the pair is in all.
func (p *pair) within(all *roaring.Bitmap) bool {
	if p.postings == nil {
		return all.Contains(p.one)
	}
	return p.postings.AndCardinality(all) == p.postings.GetCardinality()
}

// sizeInBytes is the memory of the postings, for Stats: 4 bytes for a single
// ID.
func (p *pair) sizeInBytes() uint64 {
	if p.postings == nil {
		return 4
	}
	return p.postings.GetSizeInBytes()
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
				if r, ok := ln.values.get(&ix.pairs, v); ok {
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
			if pat.re.MatchString(ix.pairs.at(r).value) == want {
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
		if pat.match(ix.pairs.at(r).value) == want {
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
		return strings.Compare(ix.pairs.at(r).value, p)
	})
	n, _ := slices.BinarySearchFunc(sorted[lo:], prefix, func(r uint32, p string) int {
		if strings.HasPrefix(ix.pairs.at(r).value, p) {
			return -1
		}
		return 1
	})
	return lo, lo + n
}
