package tsdb

import (
	"errors"
	"slices"
	"testing"
)

// TestCommitErrorSamples: a *CommitError names the samples it refused by
// their position among the batch's accepted samples, in call order, floats
// and histograms counted together, so that a caller batching many clients'
// samples can answer each client for its own.
func TestCommitErrorSamples(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	x, y, hs, z, w := lbls("x"), lbls("y"), lbls("h"), lbls("z"), lbls("w")
	b := db.Appender(nil)
	mustAppend := func(_ uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(b.Append(0, x, 1000, 1)) // 0: overtaken by a → out of order
	if _, err := b.Append(12345, lbls(""), 1000, 1); err == nil {
		t.Fatal("an unknown ref without labels was accepted")
	} // refused at Append: not counted
	mustAppend(b.Append(0, y, 1000, 5))                             // 1: stored
	mustAppend(b.Append(0, y, 1000, 5))                             // 2: the same sample again: accepted, stored once
	mustAppend(b.AppendHistogram(0, hs, 3000, testHist(0, 1), nil)) // 3: a's float at 3000 first → duplicate
	mustAppend(b.Append(0, z, 1000, 1))                             // 4: stored
	mustAppend(b.Append(0, w, 1000, 1))                             // 5: a's other value first → duplicate

	a := db.Appender(nil)
	mustAppend(a.Append(0, x, 2000, 1))
	mustAppend(a.Append(0, hs, 3000, 7))
	mustAppend(a.Append(0, w, 1000, 9))
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	err := b.Commit()
	var ce *CommitError
	if !errors.As(err, &ce) {
		t.Fatalf("commit: %v, want a *CommitError", err)
	}
	want := []RefusedSample{{0, ErrOutOfOrder}, {3, ErrDuplicate}, {5, ErrDuplicate}}
	if !slices.Equal(ce.Samples, want) {
		t.Fatalf("refused samples %v, want %v", ce.Samples, want)
	}
	if ce.OutOfOrder != 1 || ce.Duplicate != 2 || ce.OutOfBounds != 0 {
		t.Fatalf("counts %+v", *ce)
	}

	// A pooled appender's count starts again at 0.
	c, d := db.Appender(nil), db.Appender(nil)
	mustAppend(c.Append(0, z, 5000, 1)) // 0: stored
	mustAppend(c.Append(0, y, 4000, 1)) // 1: overtaken by d
	mustAppend(d.Append(0, y, 4500, 1))
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(); !errors.As(err, &ce) || !slices.Equal(ce.Samples, []RefusedSample{{1, ErrOutOfOrder}}) {
		t.Fatalf("second batch: %v (%+v)", err, ce)
	}
}
