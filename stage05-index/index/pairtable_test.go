package index

import "testing"

// TestPairTable fills a table across several pages, grown from empty and
// preallocated by reset, and reads every pair back by its reference.
func TestPairTable(t *testing.T) {
	const n = 3*pairPageSize + 17
	for _, prealloc := range []int{0, n, pairPageSize + 1} {
		var tb pairTable
		if prealloc > 0 {
			tb.reset(prealloc)
		}
		for i := range n {
			if r := tb.add(pair{one: SeriesID(i)}); r != uint32(i) {
				t.Fatalf("reset(%d): add #%d returned %d", prealloc, i, r)
			}
		}
		if tb.len() != n {
			t.Fatalf("reset(%d): len = %d, want %d", prealloc, tb.len(), n)
		}
		for i := range n {
			if got := tb.at(uint32(i)).one; got != SeriesID(i) {
				t.Fatalf("reset(%d): at(%d).one = %d", prealloc, i, got)
			}
		}
		tb.at(pairPageSize).value = "x" // at returns the stored pair, not a copy
		if tb.at(pairPageSize).value != "x" {
			t.Fatalf("reset(%d): write through at lost", prealloc)
		}
	}
}
