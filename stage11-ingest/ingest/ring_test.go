package ingest

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRingFIFO(t *testing.T) {
	r := NewRing[int](5)
	if r.Cap() != 8 {
		t.Fatalf("cap %d, want 8 (rounded up)", r.Cap())
	}
	if _, ok := r.Pop(); ok {
		t.Fatal("pop from an empty ring")
	}
	for lap := range 3 { // wrap around the slots several times
		for i := range 8 {
			if !r.Push(lap*10 + i) {
				t.Fatalf("lap %d: push %d refused", lap, i)
			}
		}
		if r.Push(99) {
			t.Fatal("push into a full ring")
		}
		if r.Len() != 8 {
			t.Fatalf("len %d", r.Len())
		}
		for i := range 8 {
			v, ok := r.Pop()
			if !ok || v != lap*10+i {
				t.Fatalf("lap %d: pop %d = %d %v", lap, i, v, ok)
			}
		}
		if _, ok := r.Pop(); ok || r.Len() != 0 {
			t.Fatal("ring not empty after popping everything")
		}
	}
}

// TestRingConcurrent: producers push distinct values, consumers pop until
// all are seen; every value comes out exactly once, and each producer's
// values come out in the order it pushed them (per consumer).
func TestRingConcurrent(t *testing.T) {
	const producers, consumers, per = 4, 4, 20_000
	r := NewRing[uint64](16)
	seen := make([]atomic.Int32, producers*per)
	var popped atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				for !r.Push(uint64(p)<<32 | uint64(i)) {
					runtime.Gosched()
				}
			}
		}()
	}
	errs := make(chan string, consumers)
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := make([]int64, producers)
			for i := range last {
				last[i] = -1
			}
			for popped.Load() < producers*per {
				v, ok := r.Pop()
				if !ok {
					runtime.Gosched()
					continue
				}
				popped.Add(1)
				p, i := int(v>>32), int64(v&0xffffffff)
				if i <= last[p] {
					errs <- "a producer's values popped out of order"
					return
				}
				last[p] = i
				seen[p*per+int(i)].Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("value %d popped %d times", i, n)
		}
	}
}

// BenchmarkQueue moves batches from producers to consumers through the
// lock-free ring and through a buffered channel of the same capacity.
func BenchmarkQueue(b *testing.B) {
	for _, kind := range []string{"ring", "chan"} {
		for _, pc := range [][2]int{{1, 1}, {4, 2}, {16, 2}} {
			b.Run(kind+"/producers="+strconv.Itoa(pc[0])+"/consumers="+strconv.Itoa(pc[1]), func(b *testing.B) {
				var q queue = ringQueue{NewRing[*Batch](16)}
				if kind == "chan" {
					q = make(chanQueue, 16)
				}
				benchQueue(b, q, pc[0], pc[1])
			})
		}
	}
}

func benchQueue(b *testing.B, q queue, producers, consumers int) {
	item := &Batch{}
	b.ReportAllocs()
	total := int64(b.N)
	var left, got atomic.Int64
	left.Store(total)
	var wg sync.WaitGroup
	b.ResetTimer()
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				for !q.push(item) {
					runtime.Gosched()
				}
			}
		}()
	}
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got.Load() < total {
				if q.pop() == nil {
					runtime.Gosched()
					continue
				}
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "batches/s")
}
