package rollup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

// The sketch file follows the WAL's rule: a torn last record is cut off
// and the store goes on; a flipped bit with intact records after it is
// ErrCorrupt for reads and appends alike, and the file is left as it is,
// every sketch after the damage still in it (the old rule truncated there).
func TestSketchStoreDamage(t *testing.T) {
	const hour = 3_600_000
	build := func(t *testing.T) (*sketchStore, string, []int64) {
		dir := t.TempDir()
		s, err := openSketchStore(dir, shard.Day)
		if err != nil {
			t.Fatal(err)
		}
		l := model.MustFromStrings(model.MetricName, "lat", "host", "a")
		var ends []int64 // file size after each append: where record i ends
		for i := range 10 {
			sk := NewSketch()
			for v := range 100 {
				sk.Add(float64(i*100 + v))
			}
			if err := s.append([]sketchRec{{labels: l, t: int64(i) * hour, sk: sk}}); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(s.path(0))
			if err != nil {
				t.Fatal(err)
			}
			ends = append(ends, fi.Size())
		}
		return s, s.path(0), ends
	}
	count := func(t *testing.T, s *sketchStore) (int, error) {
		recs, err := s.read(0, 24*hour, nil)
		return len(recs), err
	}
	edit := func(t *testing.T, path string, f func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	extra := []sketchRec{{labels: model.MustFromStrings(model.MetricName, "lat", "host", "b"), t: 20 * hour, sk: NewSketch()}}

	t.Run("torn last record", func(t *testing.T) {
		_, path, ends := build(t)
		edit(t, path, func(b []byte) []byte { return b[:ends[8]+7] })
		s, _ := openSketchStore(filepath.Dir(path), shard.Day) // a restart
		if n, err := count(t, s); err != nil || n != 9 {
			t.Fatalf("read: %d sketches, %v; want 9", n, err)
		}
		if err := s.append(extra); err != nil {
			t.Fatalf("append after a torn record: %v", err)
		}
		if n, err := count(t, s); err != nil || n != 10 {
			t.Fatalf("after the append: %d sketches, %v; want 10", n, err)
		}
	})
	t.Run("bit flip in the middle", func(t *testing.T) {
		_, path, ends := build(t)
		edit(t, path, func(b []byte) []byte { b[ends[3]+20] ^= 0x04; return b })
		before, _ := os.ReadFile(path)
		s, _ := openSketchStore(filepath.Dir(path), shard.Day)
		if _, err := count(t, s); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Fatalf("read: %v, want ErrCorrupt naming the file", err)
		}
		if err := s.append(extra); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("append after mid-file damage: %v, want ErrCorrupt", err)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Fatalf("the damaged file was changed: %d bytes, was %d", len(after), len(before))
		}
	})
}
