package promql

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// TestSelectsShareTheLock: a Select does not wait for another reader, so
// concurrent Selects do not run one at a time. A Select made while the
// test itself holds the read lock must finish (under a write lock it could
// not start).
func TestSelectsShareTheLock(t *testing.T) {
	st := NewMemStorage()
	l := model.MustFromStrings("__name__", "x")
	if err := st.Append(l, 0, 1); err != nil {
		t.Fatal(err)
	}
	st.Select(context.Background(), 0, 0) // sorts the series once
	st.mu.RLock()
	defer st.mu.RUnlock()
	done := make(chan int)
	go func() {
		n := 0
		for set := st.Select(context.Background(), 0, 10); set.Next(); {
			n++
		}
		done <- n
	}()
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("Select returned %d series, want 1", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Select waited for another reader to release the lock")
	}
}

// TestSelectWhileAppending: readers and a writer that adds series and
// samples (run with -race). Every Select sees series in label order, each
// with increasing samples inside its time range; once the writer is done,
// a Select sees all it wrote.
func TestSelectWhileAppending(t *testing.T) {
	st := NewMemStorage()
	m := index.MustNewMatcher(index.MatchEqual, "__name__", "x")
	const series, samples = 20, 50
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range samples {
			for s := range series {
				l := model.MustFromStrings("__name__", "x", "s", fmt.Sprintf("%02d", s))
				if err := st.Append(l, int64(i), float64(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				var prev model.Labels
				first := true
				for set := st.Select(context.Background(), 10, 40, m); set.Next(); {
					s := set.At()
					if !first && prev.Compare(s.Labels()) >= 0 {
						t.Errorf("series out of order: %s then %s", prev, s.Labels())
						return
					}
					prev, first = s.Labels(), false
					smp := s.(memSet).Samples()
					if !slices.IsSortedFunc(smp, func(a, b model.Sample) int { return cmpInt(a.T, b.T) }) ||
						smp[0].T < 10 || smp[len(smp)-1].T > 40 {
						t.Errorf("%s: samples %v outside [10, 40] or unsorted", s.Labels(), smp)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	for set := st.Select(context.Background(), 10, 40, m); set.Next(); {
		if got := len(set.At().(memSet).Samples()); got != 31 {
			t.Errorf("%s: %d samples in [10, 40], want 31", set.At().Labels(), got)
		}
		n++
	}
	if n != series {
		t.Errorf("%d series after the writer finished, want %d", n, series)
	}
}
