package cardinality

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/tsdb-course/stage01-memstore/model"
)

// TrackerFile is the tracker's file name inside its directory.
const TrackerFile = "tracker.card"

// The tracker file, version 1. Integers are uvarints unless noted,
// strings are a uvarint length and the bytes, sketches a uvarint length
// and an HLL encoding (encode.go, with its own CRC):
//
//	4 bytes   "CARD"
//	1 byte    version (1)
//	varint    saved at, unix ms (signed)
//	sketch    the global HLL
//	n         metrics, then for each: name, series sketch,
//	          n labels, then for each: name, values sketch,
//	          n sampled values, then for each: value (its hash is recomputed)
//	TopK      label values: total, n entries: metric, name, value, count, err
//	n         series shards (16), each a TopK: total, n entries:
//	          n labels (name, value pairs), count, err
//	n         snapshots, each: varint unix ms, total, n metrics: name, estimate
//	4 bytes   CRC-32C of everything before, little-endian
const (
	trackerMagic   = "CARD"
	trackerVersion = 1
)

// ErrTrackerFile wraps every reason a tracker file is refused.
var ErrTrackerFile = errors.New("cardinality: bad tracker file")

// MarshalBinary encodes the whole tracker.
func (t *Tracker) MarshalBinary() ([]byte, error) {
	b := append([]byte(trackerMagic), trackerVersion)
	b = binary.AppendVarint(b, t.opts.Now().UnixMilli())
	t.Flush()
	t.mu.Lock()
	var err error
	if b, err = appendSketch(b, t.global); err != nil {
		t.mu.Unlock()
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(t.metrics)))
	for _, name := range sortedKeys(t.metrics) {
		m := t.metrics[name]
		b = appendString(b, name)
		if b, err = appendSketch(b, m.series); err != nil {
			t.mu.Unlock()
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(m.labels)))
		for _, ln := range sortedKeys(m.labels) {
			l := m.labels[ln]
			b = appendString(b, ln)
			if b, err = appendSketch(b, l.values); err != nil {
				t.mu.Unlock()
				return nil, err
			}
			b = binary.AppendUvarint(b, uint64(len(l.sample)))
			for _, s := range l.sample {
				b = appendString(b, s.value)
			}
		}
	}
	b = binary.AppendUvarint(b, t.values.Total())
	top := t.values.Top(0)
	b = binary.AppendUvarint(b, uint64(len(top)))
	for _, e := range top {
		b = appendString(appendString(appendString(b, e.Key.Metric), e.Key.Name), e.Key.Value)
		b = binary.AppendUvarint(binary.AppendUvarint(b, e.Count), e.Err)
	}
	history := slices.Clone(t.history)
	t.mu.Unlock()

	b = binary.AppendUvarint(b, seriesShards)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		b = binary.AppendUvarint(b, s.top.Total())
		top := s.top.Top()
		b = binary.AppendUvarint(b, uint64(len(top)))
		for _, e := range top {
			ls := s.top.Labels(e.Key)
			b = binary.AppendUvarint(b, uint64(ls.Len()))
			for l := range ls.All() {
				b = appendString(appendString(b, l.Name), l.Value)
			}
			b = binary.AppendUvarint(binary.AppendUvarint(b, e.Count), e.Err)
		}
		s.mu.Unlock()
	}

	b = binary.AppendUvarint(b, uint64(len(history)))
	for _, s := range history {
		b = binary.AppendVarint(b, s.Time.UnixMilli())
		b = binary.AppendUvarint(b, s.Total)
		b = binary.AppendUvarint(b, uint64(len(s.Metrics)))
		for _, name := range sortedKeys(s.Metrics) {
			b = binary.AppendUvarint(appendString(b, name), s.Metrics[name])
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendSketch writes h losslessly (a sparse list at its own precision,
// however long), so that a reloaded tracker gives the very estimates it
// gave before: the file is written hourly, not sent, and its size is not
// what its budget is about.
func appendSketch(b []byte, h *HLL) ([]byte, error) {
	enc := h.appendBinary(nil, false)
	return append(binary.AppendUvarint(b, uint64(len(enc))), enc...), nil
}

// decoder reads the tracker file; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrTrackerFile}, args...)...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items each at least minBytes long, refusing
// counts the remaining bytes cannot hold (so no huge allocation).
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minBytes) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) sketch() *HLL {
	enc := d.bytes()
	if d.err != nil {
		return New()
	}
	h, err := Decode(enc)
	if err != nil {
		d.fail("sketch: %v", err)
		return New()
	}
	return h
}

// UnmarshalTracker decodes a tracker file into a new tracker with opts.
func UnmarshalTracker(b []byte, opts TrackerOptions) (*Tracker, error) {
	if len(b) < len(trackerMagic)+1+4 || string(b[:4]) != trackerMagic {
		return nil, fmt.Errorf("%w: no CARD header", ErrTrackerFile)
	}
	if b[4] != trackerVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrTrackerFile, b[4], trackerVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: checksum %08x, stored %08x", ErrTrackerFile, got, sum)
	}
	t := NewTracker(opts)
	d := &decoder{b: body[5:]}
	d.varint() // saved at: for people reading the file
	t.global = d.sketch()
	for range d.count(2) {
		name := d.string()
		m := t.metric(name)
		m.series = d.sketch()
		for range d.count(2) {
			ln := d.string()
			l := &labelSketch{values: d.sketch()}
			for range d.count(1) {
				v := d.string()
				l.offer(xxhash.Sum64String(v), v)
			}
			m.labels[ln] = l
		}
	}
	total := d.uvarint()
	entries := make([]Entry[LabelValue], 0)
	for range d.count(5) {
		k := LabelValue{Metric: d.string(), Name: d.string(), Value: d.string()}
		entries = append(entries, Entry[LabelValue]{Key: k, Count: d.uvarint(), Err: d.uvarint()})
	}
	t.values.Restore(total, entries)
	if n := d.count(2); d.err == nil && n != seriesShards {
		d.fail("%d series shards, want %d", n, seriesShards)
	}
	for i := range seriesShards {
		if d.err != nil {
			break
		}
		s := &t.shards[i]
		total := d.uvarint()
		var entries []Entry[uint64]
		labels := map[uint64]model.Labels{}
		for range d.count(3) {
			var pairs []string
			for range d.count(2) {
				pairs = append(pairs, d.string(), d.string())
			}
			ls, err := model.FromStrings(pairs...)
			if err != nil && d.err == nil {
				d.fail("series labels: %v", err)
			}
			h := ls.Hash()
			if d.err == nil && int(h>>60) != i {
				d.fail("series %s in shard %d, belongs in %d", ls, i, h>>60)
			}
			labels[h] = ls
			entries = append(entries, Entry[uint64]{Key: h, Count: d.uvarint(), Err: d.uvarint()})
		}
		s.top.Restore(total, entries, func(h uint64) model.Labels { return labels[h] })
	}
	for range d.count(3) {
		s := Snapshot{Time: time.UnixMilli(d.varint()).UTC(), Total: d.uvarint(), Metrics: map[string]uint64{}}
		for range d.count(2) {
			name := d.string()
			s.Metrics[name] = d.uvarint()
		}
		t.history = append(t.history, s)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

// Save writes the tracker to dir/TrackerFile crash-safely.
func (t *Tracker) Save(dir string) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, TrackerFile), b)
}

// LoadTracker reads dir/TrackerFile. A missing file gives an empty
// tracker and no error (first start); a damaged one an error wrapping
// ErrTrackerFile (the caller decides: refuse, or rebuild from the DB).
func LoadTracker(dir string, opts TrackerOptions) (*Tracker, error) {
	b, err := os.ReadFile(filepath.Join(dir, TrackerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return NewTracker(opts), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cardinality: %w", err)
	}
	t, err := UnmarshalTracker(b, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, TrackerFile), err)
	}
	return t, nil
}

// WriteFileAtomic replaces path with data so that a crash leaves either
// the old file or the new one, never a mix: write a temporary file in the
// same directory, fsync it, rename it over path, fsync the directory (so
// the rename itself survives). The directory is created if needed.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cardinality: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cardinality: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file 0600; the files here are not secret and
	// an operator reads them (limits.json).
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("cardinality: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("cardinality: write %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("cardinality: fsync %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("cardinality: close %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cardinality: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cardinality: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("cardinality: fsync %s: %w", dir, err)
	}
	return nil
}
