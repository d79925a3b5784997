package tsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tsdb-course/stage04-wal/wal"
)

// TimeRange is an inclusive range of timestamps.
type TimeRange struct{ Min, Max int64 }

// Tombstones are the deletes recorded against one TSM file: key → deleted
// time ranges. TSM files are immutable, so a delete cannot remove values
// from them; it is written down beside the file, applied by every read, and
// made permanent by the next compaction, which drops the values and the
// tombstone file with its input.
//
// A Tombstones value is immutable once published; Add returns a new one.
type Tombstones struct {
	m map[string][]TimeRange
	n int
}

// Len is the number of recorded (key, range) pairs.
func (ts *Tombstones) Len() int { return ts.n }

// ranges are the deleted ranges of key.
func (ts *Tombstones) ranges(key []byte) []TimeRange { return ts.m[string(key)] }

// Add returns ts plus the given deletes.
func (ts *Tombstones) Add(keys []string, r TimeRange) *Tombstones {
	out := &Tombstones{m: make(map[string][]TimeRange, len(ts.m)+len(keys)), n: ts.n}
	for k, v := range ts.m {
		out.m[k] = v
	}
	for _, k := range keys {
		out.m[k] = append(slices.Clip(out.m[k]), r)
		out.n++
	}
	return out
}

func (ts *Tombstones) apply(key []byte, v *Values) {
	if ts.n == 0 {
		return
	}
	for _, r := range ts.m[string(key)] {
		v.exclude(r.Min, r.Max)
	}
}

// covers reports whether one of key's ranges covers all of [min, max]: the
// block can be skipped without decoding.
func (ts *Tombstones) covers(key []byte, min, max int64) bool {
	for _, r := range ts.m[string(key)] {
		if r.Min <= min && r.Max >= max {
			return true
		}
	}
	return false
}

// tombstonePath is the tombstone file of a TSM file: 000001-01.tsm →
// 000001-01.tombstone.
func tombstonePath(tsmPath string) string {
	return strings.TrimSuffix(tsmPath, filepath.Ext(tsmPath)) + ".tombstone"
}

// The tombstone file, byte by byte (integers little-endian):
//
//	0   4  magic "TSMT"
//	4   1  version (1)
//	5   …  entries: u16 key length | key | i64 min | i64 max
//	end-4  CRC-32C of everything before it
//
// It is rewritten whole for every delete (tmp file, fsync, rename, fsync
// directory): deletes are rare, and a file that is either old or new,
// never half-written, needs no recovery logic.
const tombMagic = "TSMT"

// readTombstones reads a tombstone file; a missing file is no tombstones.
func readTombstones(path string) (*Tombstones, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Tombstones{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tsm: %w", err)
	}
	return decodeTombstones(b, path)
}

func decodeTombstones(b []byte, path string) (*Tombstones, error) {
	if len(b) < 9 || string(b[:4]) != tombMagic || b[4] != 1 {
		return nil, fmt.Errorf("%w: tombstone file %s: bad header", ErrCorrupt, path)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: tombstone file %s: checksum mismatch", ErrCorrupt, path)
	}
	ts := &Tombstones{m: map[string][]TimeRange{}}
	p := body[5:]
	for len(p) > 0 {
		if len(p) < 2 {
			return nil, fmt.Errorf("%w: tombstone file %s: truncated entry", ErrCorrupt, path)
		}
		kl := int(binary.LittleEndian.Uint16(p))
		if len(p) < 2+kl+16 {
			return nil, fmt.Errorf("%w: tombstone file %s: truncated entry", ErrCorrupt, path)
		}
		k := string(p[2 : 2+kl])
		r := TimeRange{int64(binary.LittleEndian.Uint64(p[2+kl:])), int64(binary.LittleEndian.Uint64(p[10+kl:]))}
		ts.m[k] = append(ts.m[k], r)
		ts.n++
		p = p[18+kl:]
	}
	return ts, nil
}

func (ts *Tombstones) encode() []byte {
	b := append([]byte(tombMagic), 1)
	keys := make([]string, 0, len(ts.m))
	for k := range ts.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, r := range ts.m[k] {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(k)))
			b = append(b, k...)
			b = binary.LittleEndian.AppendUint64(b, uint64(r.Min))
			b = binary.LittleEndian.AppendUint64(b, uint64(r.Max))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// writeFileAtomic writes b to path via path.tmp, fsync, rename and a
// directory fsync: after a crash the file is either the old or the new one.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = wal.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// addTombstones records deletes of keys in r against the file (durably)
// and publishes them to readers. Only keys the file holds are recorded.
func (r *Reader) addTombstones(keys []string, tr TimeRange) (int, error) {
	var hit []string
	old := r.tomb.Load()
	for _, k := range keys {
		// A WAL replay re-applies deletes: recording a range twice is
		// skipped so the file does not grow with every restart.
		if r.contains([]byte(k)) && !slices.Contains(old.m[k], tr) {
			hit = append(hit, k)
		}
	}
	if len(hit) == 0 {
		return 0, nil
	}
	ts := old.Add(hit, tr)
	if err := writeFileAtomic(tombstonePath(r.path), ts.encode()); err != nil {
		return 0, fmt.Errorf("tsm: tombstones of %s: %w", r.path, err)
	}
	r.tomb.Store(ts)
	return len(hit), nil
}
