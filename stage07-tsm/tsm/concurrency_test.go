package tsm

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
)

// TestConcurrentWritesFlushCompactQuery runs writers, readers, background
// flushes and compactions at once (run it with -race). Each writer owns its
// keys and writes increasing timestamps, so a reader can check that what it
// sees of a key is always a prefix of what was written: no value lost or
// duplicated while the cache is swapped and files are merged underneath it.
func TestConcurrentWritesFlushCompactQuery(t *testing.T) {
	const limit, hard = 8 << 10, 16 << 10
	e, err := Open(t.TempDir(), Options{CacheMaxSize: limit, CacheHardLimit: hard, AutoCompact: true, WAL: wal.Options{Sync: wal.SyncNone}})
	mustNoErr(t, err)
	defer e.Close()
	const writers, keys, batches = 4, 5, 300
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				batch := NewBatch()
				for k := range keys {
					batch.Add([]byte(fmt.Sprintf("w%d,k=%d#!~#v", w, k)), FloatType, int64(b), math.Float64bits(float64(w*1e6+k*1e3+b)), "")
				}
				if err := e.WriteBatch(batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	// The hard limit holds at every moment: cache + snapshot ≤ hard, even
	// while a Delete holds the flush lock or a flush is writing.
	var peak int64
	rg.Add(1)
	go func() {
		defer rg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			st := e.Stats()
			peak = max(peak, st.CacheBytes+st.SnapshotBytes)
		}
	}()
	for r := range 2 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				w, k := (r+i)%writers, i%keys
				v, _, err := e.Read(fmt.Sprintf("w%d,k=%d#!~#v", w, k), 0, math.MaxInt64)
				if err != nil {
					errs <- err
					return
				}
				for j := range v.T {
					if v.T[j] != int64(j) || v.Float(j) != float64(w*1e6+k*1e3+j) {
						errs <- fmt.Errorf("w%d k%d: value %d is t=%d %v", w, k, j, v.T[j], v.Float(j))
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // explicit compactions and deletes of nothing alongside the automatic ones
		defer wg.Done()
		for range 5 {
			if _, err := e.Compact(true); err != nil {
				errs <- err
				return
			}
			if err := e.Delete([]string{"absent#!~#v"}, 0, 1); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Everything written passed through a cache of at most hard bytes
	// (16 bytes a value at least), so the flushes cannot have been fewer.
	written := int64(writers * keys * batches * 16)
	minFlushes := written/hard - 1
	t.Logf("%d flushes (≥ %d), %d compactions, peak cache + snapshot %d bytes (limit %d)",
		e.Stats().Flushes, minFlushes, e.Stats().Compactions, peak, hard)
	if peak > hard {
		t.Errorf("cache + snapshot reached %d bytes, hard limit %d", peak, hard)
	}
	if e.Stats().Flushes < minFlushes {
		t.Errorf("%d flushes, want ≥ %d", e.Stats().Flushes, minFlushes)
	}
	for w := range writers {
		for k := range keys {
			v, _, err := e.Read(fmt.Sprintf("w%d,k=%d#!~#v", w, k), 0, math.MaxInt64)
			mustNoErr(t, err)
			if v.Len() != batches {
				t.Fatalf("w%d k%d: %d values, want %d", w, k, v.Len(), batches)
			}
		}
	}
}

// TestCacheHardLimit: with the flush held up (as a Delete holds it), a
// writer waits at the hard limit and goes on once the flush runs; with
// RejectWhenFull it gets ErrCacheFull at once; a batch bigger than the
// whole limit still gets in when the cache is empty.
func TestCacheHardLimit(t *testing.T) {
	batch := func(i int) *Batch {
		b := NewBatch()
		for k := range 10 {
			b.Add([]byte(fmt.Sprintf("m,k=%d#!~#v", k)), FloatType, int64(i), math.Float64bits(float64(i)), "")
		}
		return b
	}
	for _, reject := range []bool{false, true} {
		t.Run(fmt.Sprintf("reject=%v", reject), func(t *testing.T) {
			const hard = 4 << 10
			e, err := Open(t.TempDir(), Options{CacheMaxSize: 2 << 10, CacheHardLimit: hard, RejectWhenFull: reject,
				WAL: wal.Options{Sync: wal.SyncNone}})
			mustNoErr(t, err)
			defer e.Close()
			e.flushMu.Lock() // no flush can run
			i := 0
			for ; batchCost(batch(i))+e.Stats().CacheBytes <= hard; i++ {
				mustNoErr(t, e.WriteBatch(batch(i)))
			}
			if got := e.Stats().CacheBytes; got > hard || got <= 2<<10 {
				t.Fatalf("cache %d bytes before the limit write", got)
			}
			res := make(chan error, 1)
			go func() { res <- e.WriteBatch(batch(i)) }()
			if reject {
				if err := <-res; !errors.Is(err, ErrCacheFull) {
					t.Fatalf("write at the limit: %v, want ErrCacheFull", err)
				}
				e.flushMu.Unlock()
				return
			}
			// The write must be waiting: it cannot return while no flush
			// can run. Give it a moment to (wrongly) get through.
			select {
			case err := <-res:
				t.Fatalf("write at the hard limit returned (%v) with the flush held", err)
			case <-time.After(50 * time.Millisecond):
			}
			if got := e.Stats().CacheBytes; got > hard {
				t.Fatalf("cache %d bytes, hard limit %d", got, hard)
			}
			e.flushMu.Unlock()
			mustNoErr(t, <-res)
			v, _, err := e.Read("m,k=3#!~#v", 0, math.MaxInt64)
			mustNoErr(t, err)
			if v.Len() != i+1 {
				t.Fatalf("%d values, want %d", v.Len(), i+1)
			}
		})
	}
	t.Run("batch bigger than the limit", func(t *testing.T) {
		e, err := Open(t.TempDir(), Options{CacheMaxSize: 64, CacheHardLimit: 128, WAL: wal.Options{Sync: wal.SyncNone}})
		mustNoErr(t, err)
		defer e.Close()
		for i := range 5 {
			mustNoErr(t, e.WriteBatch(batch(i)))
		}
		v, _, err := e.Read("m,k=3#!~#v", 0, math.MaxInt64)
		mustNoErr(t, err)
		if v.Len() != 5 {
			t.Fatalf("%d values, want 5", v.Len())
		}
	})
}
