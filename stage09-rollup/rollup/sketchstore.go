package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage08-shards/shard"
)

// A sketch is not a float, so it cannot be a sample of a stage08 series.
// Each rollup tier keeps its sketches beside its shards, in one append-only
// file per shard window (README "Sketch files"):
//
//	<tier>/sketches/shard_2024-W03.sk
//	  magic "RSKETCH2"
//	  records, each a stage04 WAL frame: uint32 LE length | uint32 LE CRC-32C | type | payload
//	  type 1 (series): uvarint id | uvarint n | n × (uvarint len, name, uvarint len, value)
//	  type 2 (sketch): uvarint id | varint window start (ms) | uvarint len, sketch (MarshalBinary)
//
// Damage follows the WAL's rule (wal.ReadFrames): a record cut short or
// failing its checksum with no intact record after it is a torn append,
// cut off before the next append; damage followed by intact records is
// corruption, reported (ErrCorrupt, with the file and offset) and never cut
// away, so one flipped bit cannot silently discard the sketches after it.
//
// A series is defined once per file and its sketches refer to it by id.
// Records are only appended: a recomputed window appends a new sketch
// record, and the newest record of a (series, window) wins when read, the
// same rule TSM applies to the tier's count/sum/min/max samples. Retention
// removes whole files with the same rule as the shards.

const sketchMagic = "RSKETCH2"

const (
	recSeries = 1
	recSketch = 2
)

type sketchStore struct {
	dir string
	dur shard.Duration

	mu    sync.Mutex
	files map[int64]*sketchDict // by file window start: what an append needs
}

// sketchDict is the series dictionary of one file and its valid length.
type sketchDict struct {
	ids  map[string]uint64
	size int64
}

// sketchRec is one window's sketch of one series.
type sketchRec struct {
	labels model.Labels
	t      int64
	sk     *Sketch
}

func openSketchStore(dir string, dur shard.Duration) (*sketchStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	return &sketchStore{dir: dir, dur: dur, files: map[int64]*sketchDict{}}, nil
}

func (s *sketchStore) path(start int64) string {
	return filepath.Join(s.dir, s.dur.ID(start)+".sk")
}

// append stores recs durably: each file touched gets one write and one
// fsync.
func (s *sketchStore) append(recs []sketchRec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	byFile := map[int64][]sketchRec{}
	var order []int64
	for _, r := range recs {
		st := s.dur.Start(r.t)
		if _, ok := byFile[st]; !ok {
			order = append(order, st)
		}
		byFile[st] = append(byFile[st], r)
	}
	for _, st := range order {
		if err := s.appendFile(st, byFile[st]); err != nil {
			return err
		}
	}
	return nil
}

func (s *sketchStore) appendFile(start int64, recs []sketchRec) error {
	path := s.path(start)
	d, err := s.dict(start)
	if err != nil {
		return err
	}
	var buf, payload []byte
	if d.size == 0 {
		buf = append(buf, sketchMagic...)
	}
	frame := func() { buf = wal.AppendFrame(buf, payload) }
	added := map[string]uint64{}
	for _, r := range recs {
		key := r.labels.String()
		id, ok := d.ids[key]
		if !ok {
			if id, ok = added[key]; !ok {
				id = uint64(len(d.ids) + len(added))
				added[key] = id
				payload = append(payload[:0], recSeries)
				payload = binary.AppendUvarint(payload, id)
				payload = binary.AppendUvarint(payload, uint64(r.labels.Len()))
				for l := range r.labels.All() {
					payload = appendBytes(payload, l.Name)
					payload = appendBytes(payload, l.Value)
				}
				frame()
			}
		}
		payload = append(payload[:0], recSketch)
		payload = binary.AppendUvarint(payload, id)
		payload = binary.AppendVarint(payload, r.t)
		enc := r.sk.AppendBinary(nil)
		payload = binary.AppendUvarint(payload, uint64(len(enc)))
		payload = append(payload, enc...)
		frame()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	_, err = f.WriteAt(buf, d.size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && d.size == 0 {
		err = wal.SyncDir(s.dir)
	}
	if err != nil {
		// The dictionary is reloaded from the file on the next append.
		delete(s.files, start)
		return fmt.Errorf("rollup: sketches %s: %w", filepath.Base(path), err)
	}
	for k, id := range added {
		d.ids[k] = id
	}
	d.size += int64(len(buf))
	return nil
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// dict returns the dictionary of a file, scanning it the first time. A
// torn last record (a crash in the middle of an append) is cut off: the
// next append overwrites it. A file damaged before its end is ErrCorrupt:
// appending after the damage would bury it.
func (s *sketchStore) dict(start int64) (*sketchDict, error) {
	if d, ok := s.files[start]; ok {
		return d, nil
	}
	d := &sketchDict{ids: map[string]uint64{}}
	data, err := os.ReadFile(s.path(start))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("rollup: %w", err)
	default:
		var labels []model.Labels
		valid, err := parseSketchFile(data, func(id uint64, l model.Labels) { labels = append(labels, l) }, nil)
		if err != nil {
			return nil, fmt.Errorf("rollup: sketches %s: %w", filepath.Base(s.path(start)), err)
		}
		for id, l := range labels {
			d.ids[l.String()] = uint64(id)
		}
		d.size = int64(valid)
		if valid < len(data) {
			if err := os.Truncate(s.path(start), int64(valid)); err != nil {
				return nil, fmt.Errorf("rollup: %w", err)
			}
		}
	}
	s.files[start] = d
	return d, nil
}

// parseSketchFile calls onSeries and onSketch (either may be nil) for each
// record and returns the length of the intact prefix: a torn last record
// ends it without an error (wal.ReadFrames). Damage followed by intact
// records, and records that do not decode (series ids must be defined in
// order before use), are ErrCorrupt.
func parseSketchFile(data []byte, onSeries func(id uint64, l model.Labels), onSketch func(id uint64, t int64, enc []byte) error) (int, error) {
	if len(data) < len(sketchMagic) {
		return 0, nil
	}
	if string(data[:len(sketchMagic)]) != sketchMagic {
		return 0, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	var nseries uint64
	end, err := wal.ReadFrames(data, len(sketchMagic), func(rec []byte) error {
		d := decoder{b: rec[1:]}
		typ := rec[0]
		id := d.uvarint()
		switch {
		case d.err != nil:
			return d.err
		case typ == recSeries:
			if id != nseries {
				return fmt.Errorf("%w: series id %d, want %d", ErrCorrupt, id, nseries)
			}
			nl := d.uvarint()
			if nl > uint64(len(d.b)) {
				return fmt.Errorf("%w: %d labels", ErrCorrupt, nl)
			}
			pairs := make([]model.Label, nl)
			for i := range pairs {
				pairs[i] = model.Label{Name: string(d.bytes()), Value: string(d.bytes())}
			}
			l, err := model.New(pairs...)
			if d.err != nil || err != nil || len(d.b) != 0 {
				return fmt.Errorf("%w: series record %d", ErrCorrupt, id)
			}
			nseries++
			if onSeries != nil {
				onSeries(id, l)
			}
		case typ == recSketch:
			t := d.varint()
			enc := d.bytes()
			if d.err != nil || len(d.b) != 0 || id >= nseries {
				return fmt.Errorf("%w: sketch record of series %d", ErrCorrupt, id)
			}
			if onSketch != nil {
				return onSketch(id, t, enc)
			}
		default:
			return fmt.Errorf("%w: record type %d", ErrCorrupt, typ)
		}
		return nil
	})
	if errors.Is(err, wal.ErrCorrupt) {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	} else if err != nil {
		err = fmt.Errorf("record at offset %d: %w", end, err)
	}
	return end, err
}

// read returns the newest sketch of every (series, window) with the window
// in [from, to) (ms) whose labels match every matcher.
func (s *sketchStore) read(from, to int64, ms []*index.Matcher) ([]sketchRec, error) {
	var out []sketchRec
	for st := s.dur.Start(from); st < to; st += s.dur.Milliseconds() {
		s.mu.Lock()
		data, err := os.ReadFile(s.path(st))
		s.mu.Unlock()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rollup: %w", err)
		}
		var labels []model.Labels
		var match []bool
		type key struct {
			id uint64
			t  int64
		}
		newest := map[key][]byte{}
		var order []key
		_, err = parseSketchFile(data, func(id uint64, l model.Labels) {
			labels = append(labels, l)
			match = append(match, matchLabels(l, ms))
		}, func(id uint64, t int64, enc []byte) error {
			if t < from || t >= to || !match[id] {
				return nil
			}
			k := key{id, t}
			if _, ok := newest[k]; !ok {
				order = append(order, k)
			}
			newest[k] = enc
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("rollup: sketches %s: %w", filepath.Base(s.path(st)), err)
		}
		for _, k := range order {
			sk := new(Sketch)
			if err := sk.UnmarshalBinary(newest[k]); err != nil {
				return nil, fmt.Errorf("rollup: sketches %s: %w", filepath.Base(s.path(st)), err)
			}
			out = append(out, sketchRec{labels: labels[k.id], t: k.t, sk: sk})
		}
	}
	return out, nil
}

// expire removes the files of windows that ended at or before cutoff (ms)
// and returns the bytes freed.
func (s *sketchStore) expire(cutoff int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("rollup: %w", err)
	}
	var freed int64
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".sk")
		if !ok {
			continue
		}
		start, ok := s.windowOf(id)
		if !ok || start+s.dur.Milliseconds() > cutoff {
			continue
		}
		if fi, err := e.Info(); err == nil {
			freed += fi.Size()
		}
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil {
			return freed, fmt.Errorf("rollup: %w", err)
		}
		delete(s.files, start)
	}
	return freed, nil
}

// windowOf parses a file's shard ID (shard.Duration.ID) back to its window
// start; ok is false for a name this store would not have made.
func (s *sketchStore) windowOf(id string) (int64, bool) {
	var start int64
	var y, w int
	if _, err := fmt.Sscanf(id, "shard_%04d-W%02d", &y, &w); err == nil {
		// Monday of ISO week w: January 4th is always in week 1.
		jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC).UnixMilli()
		start = shard.Week.Start(jan4) + int64(w-1)*shard.Week.Milliseconds()
	} else if t, err := time.Parse("shard_2006-01-02T15", id); err == nil {
		start = t.UnixMilli()
	} else if t, err := time.Parse("shard_2006-01-02", id); err == nil {
		start = t.UnixMilli()
	} else {
		return 0, false
	}
	start = s.dur.Start(start)
	return start, s.dur.ID(start) == id
}
