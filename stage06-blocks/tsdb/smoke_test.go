package tsdb

import (
	"math"
	"testing"
)

func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	o := oracle{}
	ingest(t, db, o, 20, 0, 15000, 1000) // 4h10m
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	t.Logf("blocks %d head series %d", len(db.Blocks()), db.Head().NumSeries())
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, testOpts())
	t.Logf("recovery %+v", db.Recovery())
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	equalResults(t, collect(t, db, 3600000, 7200000), o.expect(3600000, 7200000, nil))
	db.Close()
}
