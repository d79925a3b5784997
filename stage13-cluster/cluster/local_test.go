package cluster

import (
	"context"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// TestAppendLocalTimeOrder: a series whose histograms are older than its
// floats (a metric that changed from native histograms to floats, handed
// over by a heal or a hint replay) is appended whole, in time order across
// both kinds, on a node's storage (24h out-of-order window) and on one
// that refuses out-of-order samples.
func TestAppendLocalTimeOrder(t *testing.T) {
	const t0 = 1_700_000_000_000
	_, hs := gorilla.SyntheticHistograms(3, 7)
	s := remote.Series{Labels: model.MustFromStrings("__name__", "changed", "job", "a")}
	for i, h := range hs {
		s.Histograms = append(s.Histograms, remote.HistogramSample{T: t0 + int64(i)*15_000, H: h})
	}
	for i := range 3 {
		s.Samples = append(s.Samples, model.Sample{T: t0 + int64(3+i)*15_000, V: float64(i)})
	}
	for _, window := range []int64{0, 24 * tsdb.Hour} {
		db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: window})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		n, err := appendLocal(db, []remote.Series{s})
		if err != nil || n != 6 {
			t.Fatalf("window %d: %d appended, %v; want 6, nil", window, n, err)
		}
		var floats, hists int
		err = remote.TSDBStorage{DB: db}.ReadSeries(context.Background(), remote.ReadQuery{MinT: t0, MaxT: t0 + 10*15_000,
			Matchers: []remote.Matcher{{Type: remote.MatchEqual, Name: "__name__", Value: "changed"}}}, func(rs *remote.ReadSeries) error {
			floats += len(rs.Samples)
			hists += len(rs.Histograms)
			return nil
		})
		if err != nil || floats != 3 || hists != 3 {
			t.Fatalf("window %d: stored %d floats, %d histograms (%v); want 3 and 3", window, floats, hists, err)
		}
	}
}
