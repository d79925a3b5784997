package tsdb

import (
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// A new series' samples in one batch queue its series record once, not
// once a sample: each would log the whole label set again (a remote-write
// batch of a new series' 500 samples, 500 records), and a float after a
// histogram of the series (two parts) needs no second record either.
func TestBatchLogsNewSeriesOnce(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	app := db.Appender(nil)
	a, b := lbls("once", "s", "a"), lbls("once", "s", "b")
	for i := range 5 {
		if _, err := app.Append(0, a, int64(i)*1000+1_000_000, 1); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		h := &histogram.Histogram{Count: 1, ZeroCount: 1}
		if _, err := app.AppendHistogram(0, b, int64(i)*1000+1_000_000, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	ha := app.(*headAppender)
	if len(ha.series) != 2 {
		t.Fatalf("%d series records queued for 2 new series, want 2: %v", len(ha.series), ha.series)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}
