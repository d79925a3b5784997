package index

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestConcurrentReadersAndWriters runs writers (Add, of label sets that
// overlap between writers, and Delete) next to readers (Select, Labels,
// LabelValues, Stats, WriteTo). Run it with -race. Afterwards the index
// must agree with an oracle rebuilt from what the writers were told, and two
// writers adding the same label set must have been given the same ID.
func TestConcurrentReadersAndWriters(t *testing.T) {
	ix := New()
	const writers, perWriter = 4, 1000
	var mu sync.Mutex
	got := map[string]SeriesID{} // label set → the ID a writer was given
	deleted := map[SeriesID]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWriter {
				// Writers share half of their label sets.
				ls, _ := randomLabels(r).With("n", fmt.Sprint(i%500, "-", i%2*w))
				id, _, err := ix.Add(ls)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, ok := got[ls.String()]; ok && prev != id && !deleted[prev] {
					t.Errorf("%v added as %d and %d", ls, prev, id)
				}
				got[ls.String()] = id
				if i%10 == 0 {
					// Delete under mu so the record and the index agree.
					if ix.Delete(id) {
						deleted[id] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	var readers sync.WaitGroup
	for k := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r := rand.New(rand.NewPCG(uint64(k), 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ms := []*Matcher{randomMatcher(r, func(string) []string { return []string{"us-east", "prod", "a", "cpu"} })}
				for _, id := range ix.Select(ms...).ToArray() {
					ix.Labels(id)
				}
				ix.LabelValues("region")
				ix.LabelNames()
				switch k {
				case 1:
					ix.Stats(5)
				case 2:
					ix.WriteTo(io.Discard, nil)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	o := newOracle()
	for s, id := range got {
		if !deleted[id] {
			ls, ok := ix.Labels(id)
			if !ok || ls.String() != s {
				t.Fatalf("series %d: %v, %v; want %s", id, ls, ok, s)
			}
			o.series[id] = ls
		}
	}
	checkAll(t, ix, o, rand.New(rand.NewPCG(7, 7)))
	_ = model.MetricName
}

// TestConcurrentAfterOpen: an index read from a file builds its hash map on
// first use; concurrent first users (Lookup, Add, Delete) must agree.
func TestConcurrentAfterOpen(t *testing.T) {
	ix, o := randomIndex(t, 11, 4000)
	back := roundTripBytes(t, ix)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id, ls := range o.series {
				if got, ok := back.Lookup(ls); !ok || got != id {
					t.Errorf("Lookup(%v) = %d, %v; want %d", ls, got, ok, id)
					return
				}
				if w == 0 {
					if got, created, _ := back.Add(ls); created || got != id {
						t.Errorf("Add(existing %v) = %d, %v", ls, got, created)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestMemoryDuringHashFill: Memory called while the first lookups of an
// index read from a file build its hash table (both under the read lock)
// reads the table only once it is built: run it with -race. Before the
// table is built Memory counts the hashes it will be built from, 8 bytes a
// series; after, the table with one entry a series.
func TestMemoryDuringHashFill(t *testing.T) {
	ix, o := randomIndex(t, 12, 4000)
	n := len(o.series)
	for round := range 20 {
		back := roundTripBytes(t, ix)
		if m := back.Memory(); m.Hashes != uint64(8*n) || m.HashEntries != 0 {
			t.Fatalf("before the first lookup: %d bytes, %d entries of hashes; want %d, 0", m.Hashes, m.HashEntries, 8*n)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if g == 1 {
					for range 50 {
						_ = back.Memory()
					}
					return
				}
				for id, ls := range o.series {
					if got, ok := back.Lookup(ls); !ok || got != id {
						t.Errorf("round %d: Lookup(%v) = %d, %v; want %d", round, ls, got, ok, id)
					}
					return // the first lookup fills the table
				}
			}()
		}
		close(start)
		wg.Wait()
		if m := back.Memory(); m.HashEntries != n || m.Hashes < uint64(12*n) {
			t.Fatalf("after the first lookup: %d bytes, %d entries of hashes; want >= %d, %d", m.Hashes, m.HashEntries, 12*n, n)
		}
	}
}

// TestMemoryStringsUnderChurn: series that come and go, each with a value
// of its own (a pod name), leave Memory().Strings where one generation of
// them puts it; every series deleted, only the arena's current block is
// left. The blocks counted are the ones the index still holds.
func TestMemoryStringsUnderChurn(t *testing.T) {
	ix := New()
	const per = 500
	gen := func(g int) []SeriesID {
		ids := make([]SeriesID, 0, per)
		for i := range per {
			id, _, err := ix.Add(model.MustFromStrings("__name__", "up", "pod", fmt.Sprintf("pod-%06d-%06d-abcdefghijklmnopqrstuvwxyz", g, i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	prev := gen(0)
	one := ix.Memory().Strings
	if one < per*40 {
		t.Fatalf("one generation: %d bytes of strings, want >= %d", one, per*40)
	}
	for g := 1; g <= 30; g++ {
		ids := gen(g)
		for _, id := range prev {
			ix.Delete(id)
		}
		prev = ids
		if s := ix.Memory().Strings; s > one+2*arenaBlock {
			t.Fatalf("generation %d: %d bytes of strings, one generation took %d", g, s, one)
		}
	}
	for _, id := range prev {
		ix.Delete(id)
	}
	if s := ix.Memory().Strings; s != arenaBlock {
		t.Fatalf("every series deleted: %d bytes of strings, want the current block's %d", s, arenaBlock)
	}
}
