package block

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/tsdb-course/stage04-wal/wal"
)

// Interval is a closed time range [Mint, Maxt] of deleted samples.
type Interval struct{ Mint, Maxt int64 }

// Intervals is a sorted list of disjoint, non-adjacent intervals.
type Intervals []Interval

// Add returns the list with iv merged in (a new slice: lists are shared
// copy-on-write with readers).
func (s Intervals) Add(iv Interval) Intervals {
	out := make(Intervals, 0, len(s)+1)
	out = append(out, s...)
	out = append(out, iv)
	sort.Slice(out, func(i, j int) bool { return out[i].Mint < out[j].Mint })
	merged := out[:1]
	for _, x := range out[1:] {
		last := &merged[len(merged)-1]
		// Adjacent intervals merge too ([1,5] + [6,9] = [1,9]); the guard
		// keeps last.Maxt+1 from overflowing.
		if x.Mint <= last.Maxt || (last.Maxt < 1<<63-1 && x.Mint == last.Maxt+1) {
			last.Maxt = max(last.Maxt, x.Maxt)
		} else {
			merged = append(merged, x)
		}
	}
	return merged
}

// Contains reports whether t is deleted.
func (s Intervals) Contains(t int64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].Maxt >= t })
	return i < len(s) && s[i].Mint <= t
}

// Covers reports whether [mint, maxt] is deleted as a whole.
func (s Intervals) Covers(mint, maxt int64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].Maxt >= mint })
	return i < len(s) && s[i].Mint <= mint && s[i].Maxt >= maxt
}

// Overlaps reports whether any interval meets [mint, maxt].
func (s Intervals) Overlaps(mint, maxt int64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].Maxt >= mint })
	return i < len(s) && s[i].Mint <= maxt
}

// Tombstones maps a block's series IDs to their deleted intervals.
type Tombstones map[uint32]Intervals

// Count is the number of intervals.
func (t Tombstones) Count() int {
	n := 0
	for _, s := range t {
		n += len(s)
	}
	return n
}

// The tombstones file:
//
//	header  4 bytes magic "TST6" | 1 byte version (1) | 3 zero bytes
//	uvarint number of series
//	series  uvarint ID − previous ID (the first: the ID) | uvarint k
//	        | k × (varint Mint | uvarint Maxt − Mint, as uint64)
//	uint32 LE CRC-32C of every byte before it
const tombstonesMagic = "TST6"

// EncodeTombstones returns the file bytes of t.
func EncodeTombstones(t Tombstones) []byte {
	ids := make([]uint32, 0, len(t))
	for id, s := range t {
		if len(s) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	b := []byte{'T', 'S', 'T', '6', 1, 0, 0, 0}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	prev := uint32(0)
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id-prev))
		prev = id
		b = binary.AppendUvarint(b, uint64(len(t[id])))
		for _, iv := range t[id] {
			b = binary.AppendVarint(b, iv.Mint)
			b = binary.AppendUvarint(b, uint64(iv.Maxt-iv.Mint))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DecodeTombstones parses a tombstones file. Errors wrap ErrCorrupt.
func DecodeTombstones(b []byte) (Tombstones, error) {
	if len(b) < 12 || string(b[:4]) != tombstonesMagic || b[4] != 1 {
		return nil, fmt.Errorf("%w: tombstones: bad header", ErrCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: tombstones: checksum mismatch", ErrCorrupt)
	}
	p := body[8:]
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return 0, false
		}
		p = p[k:]
		return v, true
	}
	n, ok := uv()
	if !ok || n > uint64(len(p)) {
		return nil, fmt.Errorf("%w: tombstones: series count", ErrCorrupt)
	}
	t := make(Tombstones, n)
	id := uint64(0)
	for i := uint64(0); i < n; i++ {
		d, ok1 := uv()
		k, ok2 := uv()
		id += d
		if !ok1 || !ok2 || id > 1<<32-1 || (i > 0 && d == 0) || k == 0 || k > uint64(len(p)) {
			return nil, fmt.Errorf("%w: tombstones: series %d", ErrCorrupt, i)
		}
		var s Intervals
		for j := uint64(0); j < k; j++ {
			mint, m := binary.Varint(p)
			if m <= 0 {
				return nil, fmt.Errorf("%w: tombstones: interval", ErrCorrupt)
			}
			p = p[m:]
			// The width is Maxt−Mint as an unsigned number: up to 2⁶⁴−1
			// for [MinInt64, MaxInt64], which overflows int64.
			w, ok := uv()
			if !ok || w > uint64(math.MaxInt64)-uint64(mint) {
				return nil, fmt.Errorf("%w: tombstones: interval", ErrCorrupt)
			}
			s = s.Add(Interval{mint, int64(uint64(mint) + w)})
		}
		t[uint32(id)] = s
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: tombstones: %d trailing bytes", ErrCorrupt, len(p))
	}
	return t, nil
}

// writeTombstones writes dir/tombstones atomically (temp file, fsync,
// rename, directory fsync), so a crash leaves either the old or the new set.
func writeTombstones(dir string, t Tombstones) (int64, error) {
	b := EncodeTombstones(t)
	tmp := filepath.Join(dir, TombstonesFilename+TmpSuffix)
	if err := writeFileSync(tmp, b); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, TombstonesFilename)); err != nil {
		return 0, err
	}
	return int64(len(b)), wal.SyncDir(dir)
}
