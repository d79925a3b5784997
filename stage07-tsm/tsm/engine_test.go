package tsm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

func testOptions() Options {
	return Options{CacheMaxSize: 1 << 40, WAL: wal.Options{Sync: wal.SyncNone, SegmentSize: 1 << 20}}
}

// checkAll compares every key of the oracle, whole and in a window.
func checkAll(t *testing.T, e *Engine, o *oracle, what string) {
	t.Helper()
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, _, err := e.Read(k, -1<<63, 1<<63-1)
		if err != nil {
			t.Fatalf("%s: read %s: %v", what, k, err)
		}
		if err := sameValues(got, o.want(k, -1<<63, 1<<63-1)); err != nil {
			t.Fatalf("%s: %s: %v", what, k, err)
		}
		got, _, err = e.Read(k, 1000, 5000)
		if err != nil {
			t.Fatalf("%s: read %s: %v", what, k, err)
		}
		if err := sameValues(got, o.want(k, 1000, 5000)); err != nil {
			t.Fatalf("%s: %s [1000,5000]: %v", what, k, err)
		}
	}
}

// TestEngineModel drives the engine with random writes (out of order,
// overwriting earlier timestamps), deletes, flushes, level and full
// compactions and reopens, and checks every key against the oracle after
// each step.
func TestEngineModel(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, testOptions())
	mustNoErr(t, err)
	defer func() { e.Close() }()
	o := newOracle()
	r := rand.New(rand.NewPCG(11, 12))
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("cpu,host=h%02d#!~#f%d", i/4, i%4)
	}
	typeOf := func(k string) Type { return allTypes[len(k)%5] }
	for round := range 30 {
		b := NewBatch()
		for range 300 {
			k := keys[r.IntN(len(keys))]
			ts := int64(r.IntN(8000)) // a small range: many overwrites
			bits, s := randValue(r, typeOf(k), uint64(r.IntN(100)))
			mustNoErr(t, b.Add([]byte(k), typeOf(k), ts, bits, s))
			o.add(k, typeOf(k), ts, bits, s)
		}
		mustNoErr(t, e.WriteBatch(b))
		switch round % 6 {
		case 1, 3:
			_, err := e.Flush()
			mustNoErr(t, err)
		case 2:
			del := []string{keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]}
			lo := int64(r.IntN(8000))
			hi := lo + int64(r.IntN(2000))
			mustNoErr(t, e.Delete(del, lo, hi))
			o.delete(del, lo, hi)
		case 4:
			_, err := e.Compact(round%12 == 10)
			mustNoErr(t, err)
		case 5:
			mustNoErr(t, e.Close())
			e, err = Open(dir, testOptions())
			mustNoErr(t, err)
		}
		checkAll(t, e, o, fmt.Sprintf("round %d", round))
	}
	for {
		st, err := e.Compact(false)
		mustNoErr(t, err)
		if len(st.Inputs) == 0 {
			break
		}
	}
	checkAll(t, e, o, "after level compactions")
	st, err := e.Compact(true)
	mustNoErr(t, err)
	if len(st.Inputs) > 0 && len(e.Stats().Files) != 1 {
		t.Fatalf("full compaction left %d files", len(e.Stats().Files))
	}
	checkAll(t, e, o, "after full compaction")
	for _, f := range e.Stats().Files {
		if f.Tombstones != 0 {
			t.Errorf("%s still has %d tombstones after a full compaction", f.Name, f.Tombstones)
		}
	}
}

func TestFieldTypeConflict(t *testing.T) {
	e, err := Open(t.TempDir(), testOptions())
	mustNoErr(t, err)
	defer e.Close()
	var p lineprotocol.Point
	mustNoErr(t, lineprotocol.Parse([]byte("cpu,host=a v=1 10"), &p))
	mustNoErr(t, e.WritePoints([]lineprotocol.Point{p}))
	_, err = e.Flush()
	mustNoErr(t, err)
	mustNoErr(t, lineprotocol.Parse([]byte("cpu,host=a v=1i 20"), &p))
	if err := e.WritePoints([]lineprotocol.Point{p}); !errors.Is(err, ErrFieldType) {
		t.Fatalf("integer write to a float key: %v, want ErrFieldType", err)
	}
	mustNoErr(t, lineprotocol.Parse([]byte("cpu,host=a#!~#x v=1 20"), &p))
	if err := e.WritePoints([]lineprotocol.Point{p}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("tag value with the separator: %v, want ErrInvalidKey", err)
	}
}

func TestSeriesKey(t *testing.T) {
	var p lineprotocol.Point
	mustNoErr(t, lineprotocol.Parse([]byte(`c\ p\,u,z=1,a=x\ y,m=a\=b v=1`), &p))
	k, _ := AppendSeriesKey(nil, &p, nil)
	if want := `c\ p\,u,a=x\ y,m=a\=b,z=1`; string(k) != want {
		t.Fatalf("series key %s, want %s", k, want)
	}
	m, tags := parseSeriesKey(string(k))
	if m != "c p,u" || len(tags) != 3 || tags[0] != [2]string{"a", "x y"} || tags[1] != [2]string{"m", "a=b"} {
		t.Fatalf("parsed %q %q", m, tags)
	}
	s, f, ok := SplitKey(FieldKey(string(k), "usage#!~#x"))
	if !ok || s != string(k) || f != "usage#!~#x" {
		t.Fatalf("split %q %q", s, f)
	}
	if measurementOf(FieldKey(string(k), "v")) != "c p,u" || measurementOf("cpu#!~#v") != "cpu" {
		t.Fatal("Measurement")
	}
}

// TestOpenCleansLeftovers: files a crash left unlisted are deleted; listed
// ones are kept.
func TestOpenCleansLeftovers(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, testOptions())
	mustNoErr(t, err)
	b := NewBatch()
	b.Add([]byte("m#!~#v"), FloatType, 1, 1, "")
	mustNoErr(t, e.WriteBatch(b))
	_, err = e.Flush()
	mustNoErr(t, err)
	mustNoErr(t, e.Close())
	for _, n := range []string{"000009-01.tsm", "000009-01.tombstone", "000002-02.tsm.tmp", "MANIFEST.tmp"} {
		mustNoErr(t, os.WriteFile(filepath.Join(dir, n), []byte("junk"), 0o644))
	}
	e, err = Open(dir, testOptions())
	mustNoErr(t, err)
	defer e.Close()
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, x := range ents {
		names = append(names, x.Name())
	}
	if fmt.Sprint(names) != "[000001-01.tsm MANIFEST wal]" {
		t.Fatalf("dir after open: %v", names)
	}
	v, _, err := e.Read("m#!~#v", 0, 10)
	if err != nil || v.Len() != 1 {
		t.Fatalf("read: %d values, %v", v.Len(), err)
	}
}

// TestCacheNewerThanSnapshot rewrites a timestamp while a flush is writing
// the snapshot that holds its older value: every read during and after the
// flush, and after a reopen, must return the newer value (the cache is
// newer than the snapshot, which is newer than the files).
func TestCacheNewerThanSnapshot(t *testing.T) {
	opts := testOptions()
	reached, release := make(chan struct{}), make(chan struct{})
	opts.hook = func(p string) {
		if p == "flush:snapshot" {
			close(reached)
			<-release
		}
	}
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	dir := t.TempDir()
	e, err := Open(dir, opts)
	mustNoErr(t, err)
	defer func() {
		unblock() // a failed check must not leave the flush, and so Close, waiting
		e.Close()
	}()
	const key = "cpu,host=a#!~#v"
	write := func(ts int64, v float64) {
		t.Helper()
		b := NewBatch()
		mustNoErr(t, b.Add([]byte(key), FloatType, ts, math.Float64bits(v), ""))
		mustNoErr(t, e.WriteBatch(b))
	}
	check := func(when string) {
		t.Helper()
		got, _, err := e.Read(key, 0, 100)
		mustNoErr(t, err)
		want := Values{Type: FloatType}
		want.Append(10, math.Float64bits(2), "")
		want.Append(20, math.Float64bits(1), "")
		if err := sameValues(got, want); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	write(10, 1)
	write(20, 1)
	flushed := make(chan error, 1)
	go func() {
		_, err := e.Flush()
		flushed <- err
	}()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the flush never reached its snapshot")
	}
	write(10, 2) // into the fresh cache; the snapshot holds 10 → 1
	check("during the flush")
	unblock()
	mustNoErr(t, <-flushed)
	if st := e.Stats(); len(st.Files) != 1 || st.CacheValues != 1 {
		t.Fatalf("after the flush: %d files, %d cache values, want 1 and 1", len(st.Files), st.CacheValues)
	}
	check("after the flush")
	mustNoErr(t, e.Close())
	opts.hook = nil
	e, err = Open(dir, opts)
	mustNoErr(t, err)
	check("after a reopen")
}
