package index

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tsdb-course/stage01-memstore/model"
)

// Index is an in-memory inverted index of series label sets.
//
// Concurrency: an Index is safe for any number of concurrent readers
// (Select, Labels, LabelValues, Stats, WriteTo, …) and writers (Add, Delete).
// A sync.RWMutex serialises writers and lets readers run together; Add first
// looks the series up under the read lock, so re-adding existing series, the
// common case when every sample names its series, does not block readers.
// Bitmaps returned by Select and Postings are copies owned by the caller.
type Index struct {
	mu sync.RWMutex

	series seriesStore
	all    *roaring.Bitmap // every live series

	// hashes finds the ID of a label set by its model.Labels.Hash
	// (hashtable.go).
	hashes hashTable
	// An index read from a file fills hashes on first use (hashOnce) from
	// the hashes stored in the file, for IDs in ascending order: a block
	// opened only to be queried never pays for a million-entry table.
	hashOnce      sync.Once
	pendingHashes []uint64
	// hashesPending is set while pendingHashes waits for the fill and
	// cleared at its end: Memory, which does not force the fill, reads
	// the table only once it is built (a fill runs under the read lock,
	// so Memory's read lock does not exclude it), and until then counts
	// pendingBytes, the hashes' slice, set with it and never changed.
	hashesPending atomic.Bool
	pendingBytes  uint64

	pairs     pairTable // by pair reference
	freePairs []uint32
	names     map[string]*labelName
	nameList  []string // sorted names of the labels some live series has

	// Payloads of the series read from a file (see Payload): the series
	// section, and for the k-th ID of payloadIDs the offset of its payload.
	payloadIDs *roaring.Bitmap
	payloadOff []uint32
	payloadBuf []byte

	scratch []uint32 // Add's buffer of pair references, under mu
	strs    strArena // copies of new names and values, under mu

	// noSeriesFilter turns off Select's per-series filtering so tests can
	// check both ways of evaluating a matcher.
	noSeriesFilter bool
}

// pair is one label pair and its postings: the IDs of the series that have it.
//
// A pair that one series has (a unique label such as instance, one pair per
// series) keeps that ID in one and no bitmap: a roaring bitmap of one
// element costs about 150 bytes on the heap. The second series converts it
// to a bitmap, and a Delete that leaves one series converts it back
// (postings.go: add, remove).
type pair struct {
	name     *labelName
	value    string
	postings *roaring.Bitmap // nil: the pair has the one series one
	one      SeriesID
	str      strRef // where the index's copy of value is (arena.go)
}

// labelName is one label name and its values.
type labelName struct {
	name   string
	str    strRef     // where the index's copy of name is (arena.go)
	values valueTable // value → pair reference
	// sorted caches the pair references in value order (nil when stale). It is
	// built by readers, under the read lock, so it is an atomic pointer; every
	// reader builds the same slice, so a race to store it is harmless.
	sorted atomic.Pointer[[]uint32]
}

// New returns an empty index.
func New() *Index {
	return &Index{
		all:   roaring.New(),
		names: map[string]*labelName{},
	}
}

// Add indexes a series and returns its ID; if the label set is already
// indexed it returns the existing ID and created = false. IDs are allocated
// monotonically, starting at 0, and never reused after Delete.
func (ix *Index) Add(ls model.Labels) (id SeriesID, created bool, err error) {
	if ls.Len() == 0 {
		return 0, false, ErrEmptyLabels
	}
	h := ls.Hash()
	ix.mu.RLock()
	ix.hashOnce.Do(ix.fillHashes)
	id, ok := ix.lookup(h, ls)
	ix.mu.RUnlock()
	if ok {
		return id, false, nil
	}
	return ix.AddHash(h, ls)
}

// AddHash is Add for a caller that has the label set's hash, h =
// ls.Hash(), and has just looked it up with LookupHash without finding it:
// the first scrape of a series hashes its labels once, not twice, and skips
// Add's read-locked lookup (AddHash looks up again under the write lock, so
// a series added meanwhile is still found). A wrong h indexes the series
// where Lookup cannot find it.
func (ix *Index) AddHash(h uint64, ls model.Labels) (id SeriesID, created bool, err error) {
	if ls.Len() == 0 {
		return 0, false, ErrEmptyLabels
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.hashOnce.Do(ix.fillHashes)
	if id, ok := ix.lookup(h, ls); ok { // added meanwhile by another writer
		return id, false, nil
	}
	if ix.series.full() {
		return 0, false, ErrLimit
	}
	// scratch still holds the pair references of the series added last,
	// and series added one after the other mostly share their label names
	// and many values (one scrape target's series): its i-th pair is
	// internPair's guess for label i. refs overwrites prev as it goes,
	// each element after it was read.
	prev := ix.scratch
	refs := ix.scratch[:0]
	id = SeriesID(ix.series.next)
	for i := range ls.Len() {
		l := ls.At(i)
		guess := noGuess
		if i < len(prev) {
			guess = prev[i]
		}
		refs = append(refs, ix.internPair(l.Name, l.Value, id, guess))
	}
	ix.scratch = refs
	ix.series.put(id, refs)
	ix.all.Add(id)
	ix.hashes.add(h, id)
	return id, true, nil
}

// fillHashes builds the hash table from the hashes read from a file. It
// runs once, under the read or the write lock: readers that need the table
// wait in hashOnce, writers are excluded by the lock.
func (ix *Index) fillHashes() {
	if ix.pendingHashes == nil {
		return
	}
	it := ix.all.Iterator()
	for _, h := range ix.pendingHashes {
		ix.hashes.add(h, it.Next())
	}
	ix.pendingHashes = nil
	ix.hashesPending.Store(false)
}

// Lookup returns the ID of a label set if it is indexed.
func (ix *Index) Lookup(ls model.Labels) (SeriesID, bool) {
	return ix.LookupHash(ls.Hash(), ls)
}

// LookupHash is Lookup with the label set's hash, h = ls.Hash(), computed
// by the caller, who can pass it on to AddHash if the series is not found.
func (ix *Index) LookupHash(h uint64, ls model.Labels) (SeriesID, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ix.hashOnce.Do(ix.fillHashes)
	return ix.lookup(h, ls)
}

func (ix *Index) lookup(h uint64, ls model.Labels) (SeriesID, bool) {
	return ix.hashes.find(h, func(id SeriesID) bool { return ix.equal(id, ls) })
}

// equal compares a stored series with a label set without building one.
func (ix *Index) equal(id SeriesID, ls model.Labels) bool {
	refs := ix.series.get(id)
	if len(refs) != ls.Len() {
		return false
	}
	for i, r := range refs {
		p, l := ix.pairs.at(r), ls.At(i)
		if p.value != l.Value || p.name.name != l.Name {
			return false
		}
	}
	return true
}

// noGuess is internPair's guess when there is none.
const noGuess = ^uint32(0)

// internPair adds id to the postings of name=value and returns the pair's
// reference, creating the pair (and the name) on first sight. Strings are
// cloned so the index never pins a caller's larger buffer (a parsed request,
// a file) in memory.
//
// guess is a pair reference that may well be name=value's, or that of
// another value of name: checking it costs two string comparisons, and
// saves one or both map lookups when it is right. Any guess is safe: a pair
// is unique, so a live pair with this name and value is the one, and a
// freed one has no name.
func (ix *Index) internPair(name, value string, id SeriesID, guess uint32) uint32 {
	var ln *labelName
	if uint64(guess) < uint64(ix.pairs.len()) {
		if p := ix.pairs.at(guess); p.name != nil && p.name.name == name {
			if p.value == value {
				p.add(id)
				return guess
			}
			ln = p.name
		}
	}
	if ln == nil {
		ln = ix.names[name]
	}
	if ln == nil {
		var ref strRef
		name, ref = ix.strs.clone(name)
		ln = &labelName{name: name, str: ref}
		ix.names[name] = ln
		i, _ := slices.BinarySearch(ix.nameList, name)
		ix.nameList = slices.Insert(ix.nameList, i, name)
	}
	slot, h, found := ln.values.find(&ix.pairs, value)
	if found {
		r := ln.values.slots[slot].ref - 1
		ix.pairs.at(r).add(id)
		return r
	}
	value, ref := ix.strs.clone(value)
	p := pair{name: ln, value: value, one: id, str: ref}
	var r uint32
	if n := len(ix.freePairs); n > 0 {
		r = ix.freePairs[n-1]
		ix.freePairs = ix.freePairs[:n-1]
		*ix.pairs.at(r) = p
	} else {
		r = ix.pairs.add(p)
	}
	ln.values.insertAt(&ix.pairs, slot, h, r)
	if ln.sorted.Load() != nil { // most adds find no cache to drop: skip the store
		ln.sorted.Store(nil)
	}
	return r
}

// Delete removes a series from the index and reports whether it was there.
// Its ID is not reused. Pairs and names left without series disappear from
// LabelNames and LabelValues.
func (ix *Index) Delete(id SeriesID) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.all.Contains(id) {
		return false
	}
	ix.hashOnce.Do(ix.fillHashes)
	ls := ix.labels(id)
	ix.forget(ls.Hash(), id)
	for _, r := range ix.series.get(id) {
		p := ix.pairs.at(r)
		if !p.remove(id) {
			continue
		}
		ln := p.name
		ln.values.del(&ix.pairs, p.value)
		ln.sorted.Store(nil)
		if ln.values.len() == 0 {
			delete(ix.names, ln.name)
			i, _ := slices.BinarySearch(ix.nameList, ln.name)
			ix.nameList = slices.Delete(ix.nameList, i, i+1)
			ix.strs.release(ln.name, ln.str)
		}
		ix.strs.release(p.value, p.str)
		*ix.pairs.at(r) = pair{}
		ix.freePairs = append(ix.freePairs, r)
	}
	ix.all.Remove(id)
	ix.series.del(id, ix.all)
	return true
}

// forget removes id from the hash table.
func (ix *Index) forget(h uint64, id SeriesID) { ix.hashes.del(h, id) }

// Labels returns the label set of a series.
func (ix *Index) Labels(id SeriesID) (model.Labels, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.all.Contains(id) {
		return model.Labels{}, false
	}
	return ix.labels(id), true
}

func (ix *Index) labels(id SeriesID) model.Labels {
	refs := ix.series.get(id)
	ls := make([]model.Label, len(refs))
	for i, r := range refs {
		p := ix.pairs.at(r)
		ls[i] = model.Label{Name: p.name.name, Value: p.value}
	}
	// Stored labels are valid and sorted, so New cannot fail.
	out, _ := model.New(ls...)
	return out
}

// Len is the number of series.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(ix.all.GetCardinality())
}

// NextID is the ID the next new series will get.
func (ix *Index) NextID() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.series.next
}

// LabelNames returns the names of all labels, sorted.
func (ix *Index) LabelNames() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return slices.Clone(ix.nameList)
}

// LabelValues returns the values of a label, sorted ("" is never one).
func (ix *Index) LabelValues(name string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ln := ix.names[name]
	if ln == nil {
		return nil
	}
	refs := ix.sortedRefs(ln)
	vs := make([]string, len(refs))
	for i, r := range refs {
		vs[i] = ix.pairs.at(r).value
	}
	return vs
}

// sortedRefs returns ln's pair references in value order. Call it under the
// read (or write) lock.
func (ix *Index) sortedRefs(ln *labelName) []uint32 {
	if p := ln.sorted.Load(); p != nil {
		return *p
	}
	refs := make([]uint32, 0, ln.values.len())
	ln.values.each(func(r uint32) { refs = append(refs, r) })
	slices.SortFunc(refs, func(a, b uint32) int { return strings.Compare(ix.pairs.at(a).value, ix.pairs.at(b).value) })
	ln.sorted.Store(&refs)
	return refs
}

// Postings returns a copy of the IDs of the series with name=value.
func (ix *Index) Postings(name, value string) *roaring.Bitmap {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ln := ix.names[name]; ln != nil {
		if r, ok := ln.values.get(&ix.pairs, value); ok {
			return ix.pairs.at(r).clone()
		}
	}
	return roaring.New()
}

// Count is the number of series with the label name=value, 0 if none: the
// length of a postings list without copying it. An admission check asks it
// for every new series (__name__=metric: the metric's series), so it must
// cost a lookup, not a bitmap clone.
func (ix *Index) Count(name, value string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ln := ix.names[name]; ln != nil {
		if r, ok := ln.values.get(&ix.pairs, value); ok {
			return int(ix.pairs.at(r).card())
		}
	}
	return 0
}

// All returns a copy of the IDs of every series.
func (ix *Index) All() *roaring.Bitmap {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.all.Clone()
}

// Optimize converts the postings to run containers where that is smaller
// (series added together share labels, so their IDs form runs). It is worth
// calling once an index stops growing; WriteTo does it on what it writes.
func (ix *Index) Optimize() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range ix.pairs.len() {
		if p := ix.pairs.at(uint32(i)).postings; p != nil {
			p.RunOptimize()
		}
	}
	ix.all.RunOptimize()
}
