package tsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"sync/atomic"
)

// Reader reads one TSM file through mmap. Opening checks the header, the
// footer and the CRC of index, offsets and bloom filter; blocks are checked
// (their own CRC) when read. Lookups binary-search the offsets table and
// parse only the index entries they land on.
//
// A Reader is safe for concurrent use. Its tombstones can be replaced while
// queries run (copy on write).
type Reader struct {
	path    string
	data    []byte
	level   int
	index   []byte // index section
	offsets []byte // nkeys × u32
	nkeys   int
	bloom   *Bloom

	tomb atomic.Pointer[Tombstones]

	// Counters for the query report and for tests: how often the bloom
	// filter answered alone, and how often the index was searched.
	bloomRejects  atomic.Int64
	indexSearches atomic.Int64

	refs     atomic.Int64 // engine references; the last release of an obsolete file removes it
	obsolete atomic.Bool
}

// OpenReader maps and checks the file at path, and loads its tombstones.
func OpenReader(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tsm: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tsm: %w", err)
	}
	if fi.Size() < headerSize+footerSize {
		return nil, fmt.Errorf("%w: %s: %d bytes is too short for a TSM file", ErrCorrupt, path, fi.Size())
	}
	data, err := mmapFile(f, int(fi.Size()))
	if err != nil {
		return nil, fmt.Errorf("tsm: mmap %s: %w", path, err)
	}
	r, err := newReader(path, data)
	if err != nil {
		munmap(data)
		return nil, err
	}
	ts, err := readTombstones(tombstonePath(path))
	if err != nil {
		munmap(data)
		return nil, err
	}
	r.tomb.Store(ts)
	r.refs.Store(1)
	return r, nil
}

// newReader checks the structure of data (a whole TSM file).
func newReader(path string, data []byte) (*Reader, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, fmt.Sprintf(format, a...))
	}
	if len(data) < headerSize+footerSize {
		return nil, bad("%d bytes is too short", len(data))
	}
	if string(data[:4]) != fileMagic {
		return nil, bad("bad magic %q", data[:4])
	}
	if data[4] != fileVersion {
		return nil, bad("unknown version %d", data[4])
	}
	foot := data[len(data)-footerSize:]
	if string(foot[32:]) != fileMagic {
		return nil, bad("bad footer magic")
	}
	indexOff := binary.LittleEndian.Uint64(foot)
	offsetsOff := binary.LittleEndian.Uint64(foot[8:])
	bloomOff := binary.LittleEndian.Uint64(foot[16:])
	nkeys := uint64(binary.LittleEndian.Uint32(foot[24:]))
	footStart := uint64(len(data) - footerSize)
	if indexOff < headerSize || indexOff > offsetsOff || offsetsOff > bloomOff || bloomOff > footStart ||
		bloomOff-offsetsOff != 4*nkeys {
		return nil, bad("footer offsets %d/%d/%d for %d keys in %d bytes", indexOff, offsetsOff, bloomOff, nkeys, len(data))
	}
	if got, want := crc32.Checksum(data[indexOff:footStart+28], castagnoli), binary.LittleEndian.Uint32(foot[28:]); got != want {
		return nil, bad("index checksum %08x, stored %08x", got, want)
	}
	bloom, err := decodeBloom(data[bloomOff:footStart])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &Reader{path: path, data: data, level: int(data[5]), index: data[indexOff:offsetsOff],
		offsets: data[offsetsOff:bloomOff], nkeys: int(nkeys), bloom: bloom}
	r.tomb.Store(&Tombstones{})
	return r, nil
}

// Path is the file's path; Level its compaction level; KeyCount its number
// of keys; Size its length in bytes.
func (r *Reader) Path() string  { return r.path }
func (r *Reader) Level() int    { return r.level }
func (r *Reader) KeyCount() int { return r.nkeys }
func (r *Reader) Size() int64   { return int64(len(r.data)) }

// Bloom is the file's bloom filter.
func (r *Reader) Bloom() *Bloom { return r.bloom }

// BloomRejects and IndexSearches are the lookup counters since open.
func (r *Reader) BloomRejects() int64  { return r.bloomRejects.Load() }
func (r *Reader) IndexSearches() int64 { return r.indexSearches.Load() }

// Tombstones are the file's current tombstones (do not modify).
func (r *Reader) Tombstones() *Tombstones { return r.tomb.Load() }

// entryAt parses the index entry of key number i.
func (r *Reader) entryAt(i int) (key []byte, t Type, blocks []byte, err error) {
	off := uint64(binary.LittleEndian.Uint32(r.offsets[4*i:]))
	idx := r.index
	if off+2 > uint64(len(idx)) {
		return nil, 0, nil, fmt.Errorf("%w: %s: index entry %d at %d out of range", ErrCorrupt, r.path, i, off)
	}
	kl := uint64(binary.LittleEndian.Uint16(idx[off:]))
	p := off + 2
	if p+kl+3 > uint64(len(idx)) {
		return nil, 0, nil, fmt.Errorf("%w: %s: index entry %d truncated", ErrCorrupt, r.path, i)
	}
	key = idx[p : p+kl : p+kl]
	t = Type(idx[p+kl])
	n := uint64(binary.LittleEndian.Uint16(idx[p+kl+1:]))
	p += kl + 3
	if !t.valid() || n == 0 || p+n*entrySize > uint64(len(idx)) {
		return nil, 0, nil, fmt.Errorf("%w: %s: index entry %d (type %d, %d blocks) out of range", ErrCorrupt, r.path, i, t, n)
	}
	return key, t, idx[p : p+n*entrySize], nil
}

// KeyAt returns key number i (0 ≤ i < KeyCount), in ascending order, with its
// type and block entries.
func (r *Reader) KeyAt(i int) ([]byte, Type, []indexEntry, error) {
	key, t, raw, err := r.entryAt(i)
	if err != nil {
		return nil, 0, nil, err
	}
	es, err := r.decodeEntries(raw)
	return key, t, es, err
}

func (r *Reader) decodeEntries(raw []byte) ([]indexEntry, error) {
	es := make([]indexEntry, len(raw)/entrySize)
	dataEnd := binary.LittleEndian.Uint64(r.data[len(r.data)-footerSize:])
	for j := range es {
		b := raw[j*entrySize:]
		e := indexEntry{MinTime: int64(binary.LittleEndian.Uint64(b)), MaxTime: int64(binary.LittleEndian.Uint64(b[8:])),
			Offset: binary.LittleEndian.Uint64(b[16:]), Size: binary.LittleEndian.Uint32(b[24:])}
		if e.Offset < headerSize || e.Offset > dataEnd || uint64(e.Size) > dataEnd-e.Offset || e.MinTime > e.MaxTime {
			return nil, fmt.Errorf("%w: %s: block entry %+v out of range", ErrCorrupt, r.path, e)
		}
		es[j] = e
	}
	return es, nil
}

// search binary-searches the offsets table for key: the index of the first
// key ≥ key, and whether it is equal.
func (r *Reader) search(key []byte) (int, bool, error) {
	lo, hi := 0, r.nkeys
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k, _, _, err := r.entryAt(m)
		if err != nil {
			return 0, false, err
		}
		if bytes.Compare(k, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < r.nkeys {
		k, _, _, err := r.entryAt(lo)
		if err != nil {
			return 0, false, err
		}
		return lo, bytes.Equal(k, key), nil
	}
	return lo, false, nil
}

// entries looks key up: the bloom filter first (a "no" is counted and
// touches nothing else), then a binary search of the index.
func (r *Reader) entries(key []byte) (Type, []indexEntry, bool, error) {
	t, es, ok, _, err := r.lookup(key)
	return t, es, ok, err
}

// contains reports whether the file holds key (bloom filter, then index).
func (r *Reader) contains(key []byte) bool {
	_, _, ok, _ := r.entries(key)
	return ok
}

// Block returns the raw bytes of one block (aliasing the mapping).
func (r *Reader) Block(e indexEntry) []byte { return r.data[e.Offset : e.Offset+uint64(e.Size)] }

// Read returns the values of key with min ≤ t ≤ max in this file,
// tombstones applied, and the number of blocks decoded.
func (r *Reader) Read(key []byte, min, max int64) (Values, int, error) {
	t, es, ok, _, err := r.lookup(key)
	if err != nil || !ok {
		return Values{}, 0, err
	}
	var v Values
	n, err := r.readEntries(key, t, es, min, max, &v)
	return v, n, err
}

// Close unmaps the file.
func (r *Reader) Close() error {
	if r.data == nil {
		return nil
	}
	err := munmap(r.data)
	r.data = nil
	return err
}

// acquire and release count the engine's references (the file set holds
// one, each running query or compaction one more). An obsolete file (merged
// by a compaction) is unmapped and deleted at its last release.
func (r *Reader) acquire() { r.refs.Add(1) }

func (r *Reader) release() {
	if r.refs.Add(-1) == 0 && r.obsolete.Load() {
		r.Close()
		os.Remove(r.path)
		os.Remove(tombstonePath(r.path))
	}
}
