package tsm

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
)

// TestConcurrentWritesFlushCompactQuery runs writers, readers, background
// flushes and compactions at once (run it with -race). Each writer owns its
// keys and writes increasing timestamps, so a reader can check that what it
// sees of a key is always a prefix of what was written: no value lost or
// duplicated while the cache is swapped and files are merged underneath it.
func TestConcurrentWritesFlushCompactQuery(t *testing.T) {
	e, err := Open(t.TempDir(), Options{CacheMaxSize: 8 << 10, AutoCompact: true, WAL: wal.Options{Sync: wal.SyncNone}})
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
	// How many flushes ran depends on scheduling (a Delete holding the flush
	// lock lets the cache grow past its limit meanwhile); at least one must
	// have run while the writers were writing.
	t.Logf("%d flushes, %d compactions", e.Stats().Flushes, e.Stats().Compactions)
	if e.Stats().Flushes < 1 {
		t.Errorf("no flush: the test did not exercise writes during flushes")
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
