package tsdb

import (
	"math"
	"strings"
	"testing"

	"github.com/tsdb-course/stage05-index/index"
)

// TestHeadDelete: deletes in the head hide the samples at once, survive a
// restart (the WAL's tombstone record is replayed), and leave the samples
// out of the block the head is cut into. One delete covers all of time,
// [MinInt64, MaxInt64], the widest interval a tombstone can hold.
func TestHeadDelete(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	o := oracle{}
	ingest(t, db, o, 20, 0, Minute, 60)
	is := func(i string) func(string) bool {
		return func(k string) bool { return strings.Contains(k, `i="`+i+`"`) }
	}
	deletes := []struct {
		mint, maxt int64
		ms         []*index.Matcher
		match      func(string) bool
	}{
		{10 * Minute, 20 * Minute, []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "i", "3")}, is("3")},
		{math.MinInt64, math.MaxInt64, []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "i", "4")}, is("4")},
		{30*Minute + 1, 31*Minute - 1, []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "i", "5")}, is("5")}, // between samples
		{55 * Minute, 70 * Minute, []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "job", "j1")}, func(k string) bool { return strings.Contains(k, `job="j1"`) }},
		{0, 5 * Minute, []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "i", "nope")}, func(string) bool { return false }},
	}
	for _, d := range deletes {
		if err := db.Delete(d.mint, d.maxt, d.ms...); err != nil {
			t.Fatal(err)
		}
		o.del(d.mint, d.maxt, d.match)
	}
	if err := db.Delete(0, 1); err == nil {
		t.Fatal("delete without matchers accepted")
	}
	check := func(stage string) {
		t.Helper()
		for _, r := range [][2]int64{{math.MinInt64, all}, {5 * Minute, 25 * Minute}, {56 * Minute, 59 * Minute}} {
			got, want := collect(t, db, r[0], r[1]), o.expect(r[0], r[1], nil)
			t.Run(stage, func(t *testing.T) { equalResults(t, got, want) })
		}
	}
	check("head")
	db.Close()
	db = openDB(t, dir, testOpts())
	check("replayed")
	if db.Recovery().WALRecords == 0 {
		t.Fatal("nothing replayed")
	}
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	var inBlocks uint64
	for _, b := range db.Blocks() {
		inBlocks += b.Stats.NumSamples
	}
	total := 0
	for _, ss := range o.expect(math.MinInt64, all, nil) {
		total += len(ss)
	}
	if inBlocks != uint64(total) {
		t.Fatalf("blocks hold %d samples, want %d (deleted samples written?)", inBlocks, total)
	}
	check("block")
	// The same all-of-time delete on a block: its tombstones file must
	// read back (a width of 2⁶⁴−1 once made Open call the block corrupt).
	if err := db.Delete(math.MinInt64, math.MaxInt64, index.MustNewMatcher(index.MatchEqual, "i", "6")); err != nil {
		t.Fatal(err)
	}
	o.del(math.MinInt64, math.MaxInt64, is("6"))
	check("block-delete")
	db.Close()
	db = openDB(t, dir, testOpts())
	defer db.Close()
	if d := db.Damage(); len(d) != 0 {
		t.Fatalf("blocks reported damaged after a delete: %v", d)
	}
	check("block-reopened")
}
