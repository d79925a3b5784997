package tsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// ReadStats say what one read touched.
type ReadStats struct {
	Files         int // live TSM files at the time of the read
	BloomRejects  int // files whose bloom filter said "not here": index untouched
	IndexSearches int // files whose index was binary-searched
	FilesRead     int // distinct files with at least one block decoded
	Blocks        int // blocks decoded
	CacheValues   int // values taken from the cache (and snapshot)

	read []*Reader // the files counted in FilesRead
}

// Add sums two ReadStats (Files is a property of the file set: kept).
func (s *ReadStats) Add(o ReadStats) {
	s.Files = max(s.Files, o.Files)
	s.BloomRejects += o.BloomRejects
	s.IndexSearches += o.IndexSearches
	for _, r := range o.read {
		if !slices.Contains(s.read, r) {
			s.read = append(s.read, r)
		}
	}
	s.FilesRead = len(s.read)
	s.Blocks += o.Blocks
	s.CacheValues += o.CacheValues
}

// view is a consistent set of sources for one query: the files (each with
// a reference held, so a compaction cannot unmap them underneath) plus the
// snapshot and the cache, oldest first.
type view struct {
	files []*Reader
	snap  *cache
	cache *cache
}

func (e *Engine) acquire() view {
	e.mu.RLock()
	defer e.mu.RUnlock()
	v := view{files: slices.Clone(e.files), snap: e.snap, cache: e.cache}
	for _, f := range v.files {
		f.acquire()
	}
	return v
}

func (v view) release() {
	for _, f := range v.files {
		f.release()
	}
}

// Read returns the values of key with min ≤ t ≤ max, merged from every TSM
// file (oldest generation first), the snapshot and the cache: for a
// timestamp written more than once, the newest write wins.
func (e *Engine) Read(key string, min, max int64) (Values, ReadStats, error) {
	if e.closed.Load() {
		return Values{}, ReadStats{}, ErrClosed
	}
	v := e.acquire()
	defer v.release()
	return v.read([]byte(key), min, max)
}

func (v view) read(key []byte, min, max int64) (Values, ReadStats, error) {
	st := ReadStats{Files: len(v.files)}
	var out, part Values
	for _, f := range v.files {
		t, es, ok, rejected, err := f.lookup(key)
		if rejected {
			st.BloomRejects++
			continue
		}
		st.IndexSearches++
		if err != nil {
			return out, st, err
		}
		if !ok {
			continue
		}
		part = Values{Type: t, T: part.T[:0], V: part.V[:0], S: part.S[:0]}
		n, err := f.readEntries(key, t, es, min, max, &part)
		if err != nil {
			return out, st, err
		}
		if n > 0 {
			st.FilesRead++
			st.read = append(st.read, f)
			st.Blocks += n
		}
		if out.Len() == 0 {
			// The first file with data: its values become the result as they
			// are, and part decodes the next file into buffers of its own.
			out, part = part, Values{}
		} else {
			out.merge(&part)
		}
	}
	for _, c := range []*cache{v.snap, v.cache} {
		if c == nil {
			continue
		}
		part = Values{}
		c.Read(key, min, max, &part)
		st.CacheValues += part.Len()
		out.merge(&part)
	}
	return out, st, nil
}

// SeriesKeys returns the keys of measurement m (in every file, the snapshot
// and the cache), sorted, with their types. In a file the keys of a
// measurement are contiguous, so this is a binary search for the prefix and
// a scan of that range.
func (e *Engine) MeasurementKeys(m string) ([]string, map[string]Type, error) {
	v := e.acquire()
	defer v.release()
	prefix := measurementPrefix(m)
	types := map[string]Type{}
	for _, f := range v.files {
		if err := f.keysWithPrefix([]byte(prefix), types); err != nil {
			return nil, nil, err
		}
	}
	for _, c := range []*cache{v.snap, v.cache} {
		if c != nil {
			c.keysWithPrefix(prefix, types)
		}
	}
	keys := make([]string, 0, len(types))
	for k := range types {
		// the prefix must end the measurement: "cpu" must not match "cpu2"
		if rest := k[len(prefix):]; strings.HasPrefix(rest, ",") || strings.HasPrefix(rest, FieldSeparator) {
			keys = append(keys, k)
		} else {
			delete(types, k)
		}
	}
	slices.Sort(keys)
	return keys, types, nil
}

// Measurements lists the measurement names present (files, snapshot and
// cache).
func (e *Engine) Measurements() ([]string, error) {
	v := e.acquire()
	defer v.release()
	set := map[string]bool{}
	for _, f := range v.files {
		// Jump over each group of keys rather than visiting every key: all
		// keys "m,…" sort before "m-" and all keys "m#!~#…" before "m#!~$".
		i := 0
		for i < f.KeyCount() {
			k, _, _, err := f.entryAt(i)
			if err != nil {
				return nil, err
			}
			m := measurementOf(string(k))
			set[m] = true
			p := measurementPrefix(m)
			next := p + "-"
			if strings.HasPrefix(string(k), p+FieldSeparator) {
				next = p + "#!~$"
			}
			j, _, err := f.search([]byte(next))
			if err != nil {
				return nil, err
			}
			i = max(j, i+1)
		}
	}
	for _, c := range []*cache{v.snap, v.cache} {
		if c != nil {
			for _, k := range c.sortedKeys() {
				set[measurementOf(k)] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	slices.Sort(out)
	return out, nil
}

// lookup is entries that also says whether the bloom filter rejected key.
func (r *Reader) lookup(key []byte) (t Type, es []indexEntry, ok, rejected bool, err error) {
	if !r.bloom.mayContain(key) {
		r.bloomRejects.Add(1)
		return 0, nil, false, true, nil
	}
	r.indexSearches.Add(1)
	i, ok, err := r.search(key)
	if err != nil || !ok {
		return 0, nil, false, false, err
	}
	_, t, raw, err := r.entryAt(i)
	if err != nil {
		return 0, nil, false, false, err
	}
	es, err = r.decodeEntries(raw)
	return t, es, err == nil, false, err
}

// readEntries decodes the blocks of es overlapping [min, max] into dst (empty,
// of type t), then applies the window and the tombstones; it returns the
// number of blocks decoded. Blocks entirely covered by a tombstone are
// skipped undecoded.
func (r *Reader) readEntries(key []byte, t Type, es []indexEntry, min, max int64, dst *Values) (int, error) {
	dst.Type = t
	tomb := r.tomb.Load()
	// Size dst once from the blocks' counts instead of letting appends
	// double it: the count is the varint after a block's checksum and type
	// byte, read here unchecked (decodeBlock checks it) and capped.
	want := 0
	for _, e := range es {
		if b := r.Block(e); e.Overlaps(min, max) && len(b) > 5 {
			if n, _ := binary.Uvarint(b[5:]); n <= MaxPointsPerBlock {
				want += int(n)
			}
		}
	}
	dst.T = slices.Grow(dst.T, want)
	if t == StringType {
		dst.S = slices.Grow(dst.S, want)
	} else {
		dst.V = slices.Grow(dst.V, want)
	}
	blocks := 0
	for _, e := range es {
		if !e.Overlaps(min, max) || tomb.covers(key, e.MinTime, e.MaxTime) {
			continue
		}
		if err := decodeBlock(r.Block(e), dst); err != nil {
			return blocks, fmt.Errorf("%s: key %q block at %d: %w", r.path, key, e.Offset, err)
		}
		blocks++
	}
	if min > es[0].MinTime || max < es[len(es)-1].MaxTime {
		dst.window(min, max)
	}
	tomb.apply(key, dst)
	return blocks, nil
}

// keysWithPrefix adds the file's keys starting with prefix to dst.
func (r *Reader) keysWithPrefix(prefix []byte, dst map[string]Type) error {
	i, _, err := r.search(prefix)
	if err != nil {
		return err
	}
	for ; i < r.nkeys; i++ {
		k, t, _, err := r.entryAt(i)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(k, prefix) {
			break
		}
		if _, ok := dst[string(k)]; !ok {
			dst[string(k)] = t
		}
	}
	return nil
}
