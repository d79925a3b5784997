package tsdb

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestQueryRangeEdges: a query's range is inclusive at both ends, wherever
// an end falls: on the first or last sample of a block chunk, of a block,
// of a head-chunks file chunk, of the open chunk. Every such edge is a
// query's mint and maxt in turn, and each series is read through both
// iterator paths (the read-ahead's decoding, then a second iterator over
// the chunk list), against the oracle.
func TestQueryRangeEdges(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 3, 0, 20_000, 5*180+1) // 20 s scrapes for 5 h: 120-sample chunks of 40 min
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 || db.Head().Stats().MappedChunks == 0 || db.Head().Stats().OpenChunks == 0 {
		t.Fatalf("need blocks, mapped and open head chunks: %d blocks, %+v", len(db.Blocks()), db.Head().Stats())
	}
	edges := chunkEdges(t, db)
	if len(edges) < 10 {
		t.Fatalf("only %d edges", len(edges))
	}
	ranges := [][2]int64{}
	for _, e := range edges {
		ranges = append(ranges, [2]int64{e, e}, [2]int64{e - 20_000, e}, [2]int64{e, e + 20_000}, [2]int64{math.MinInt64, e}, [2]int64{e, math.MaxInt64})
	}
	for _, r := range ranges {
		want := o.expect(r[0], r[1], nil)
		q, err := db.Querier(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, again := readTwice(t, q)
		q.Close()
		name := fmt.Sprintf("[%d, %d]", r[0], r[1])
		t.Run(name+" read-ahead", func(t *testing.T) { equalResults(t, got, want) })
		t.Run(name+" chunk list", func(t *testing.T) { equalResults(t, again, want) })
	}
}

// chunkEdges lists the first and last timestamps of every chunk of the
// DB's blocks and head.
func chunkEdges(t *testing.T, db *DB) []int64 {
	t.Helper()
	set := map[int64]bool{}
	for _, b := range db.blocks {
		set[b.Meta().MinTime], set[b.Meta().MaxTime-1] = true, true
		for _, id := range b.Index().All().ToArray() {
			ms, err := b.Chunks(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				set[m.MinT], set[m.MaxT] = true, true
			}
		}
	}
	db.head.byID.each(func(s *memSeries) bool {
		s.mu.Lock()
		for _, m := range s.mmapped {
			set[m.MinT], set[m.MaxT] = true, true
		}
		if s.openN > 0 {
			set[s.openMinT], set[s.maxT] = true, true
		}
		s.mu.Unlock()
		return true
	})
	var out []int64
	for e := range set {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// readTwice reads every series of a Select with its first iterator and
// again with a second one.
func readTwice(t *testing.T, q Querier) (first, second map[string][]model.Sample) {
	t.Helper()
	first, second = map[string][]model.Sample{}, map[string][]model.Sample{}
	ss := q.Select()
	for ss.Next() {
		s := ss.At()
		if a := readAll(t, s.Iterator(nil)); len(a) > 0 {
			first[s.Labels().String()] = a
		}
		if b := readAll(t, s.Iterator(nil)); len(b) > 0 {
			second[s.Labels().String()] = b
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return first, second
}
