package index

// pairPageBits sets the page size of the pair table: 1024 pairs (40 KiB)
// a page.
const (
	pairPageBits = 10
	pairPageSize = 1 << pairPageBits
)

// pairTable holds the pairs by reference. It is cut into pages so that
// growing it never copies the pairs already in it: a flat slice grown by
// append is copied at each growth, and past a few hundred elements append
// grows by a quarter, so building an index allocated about five times the
// table's final size. Only the first page grows by append; the others are
// allocated whole.
type pairTable struct {
	pages [][]pair
	n     int
}

// at returns the pair with reference r (< len).
func (t *pairTable) at(r uint32) *pair {
	return &t.pages[r>>pairPageBits][r&(pairPageSize-1)]
}

// len is the number of pair references, freed ones included.
func (t *pairTable) len() int { return t.n }

// add appends p and returns its reference.
func (t *pairTable) add(p pair) uint32 {
	pg := t.n >> pairPageBits
	if pg == len(t.pages) {
		var page []pair
		if pg > 0 { // the first page grows from small: most indexes are
			page = make([]pair, 0, pairPageSize)
		}
		t.pages = append(t.pages, page)
	}
	t.pages[pg] = append(t.pages[pg], p)
	t.n++
	return uint32(t.n - 1)
}

// reset empties the table and makes room for n pairs.
func (t *pairTable) reset(n int) {
	t.pages, t.n = nil, 0
	for n > 0 {
		c := min(n, pairPageSize)
		t.pages = append(t.pages, make([]pair, 0, c))
		n -= c
	}
}
