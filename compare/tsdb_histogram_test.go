package compare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// TestTSDBHistogramsAgree: the same appends (floats, integer and float
// native histograms, series changing kind, duplicates of every sort,
// out-of-order samples) go to stage06 and to Prometheus's TSDB (v0.316.0,
// the oracle). Each append must get the same answer from both (stored,
// duplicate, out of order), and both must then hold the same samples:
// stage06 from its head, after a restart (WAL replay), and from blocks
// after compaction.
func TestTSDBHistogramsAgree(t *testing.T) {
	for _, window := range []int64{0, 30 * 60 * 1000} {
		t.Run(fmt.Sprintf("window=%dm", window/60_000), func(t *testing.T) { tsdbHistogramsAgree(t, window, false) })
	}
	// Batches: each commit holds two samples of every series, the
	// kind-changing series often changing kind inside the batch
	// (Prometheus cuts its batch there so that each series' samples apply
	// in order).
	t.Run("batches", func(t *testing.T) { tsdbHistogramsAgree(t, 0, true) })
}

// sample is one stored value of any kind, for comparing.
type sample struct {
	t  int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

func (s sample) String() string {
	switch {
	case s.h != nil:
		return fmt.Sprintf("t=%d h%+v", s.t, *s.h)
	case s.fh != nil:
		return fmt.Sprintf("t=%d fh%+v", s.t, *s.fh)
	}
	return fmt.Sprintf("t=%d %v", s.t, s.v)
}

func sameStored(a, b sample) bool {
	switch {
	case a.t != b.t || (a.h == nil) != (b.h == nil) || (a.fh == nil) != (b.fh == nil):
		return false
	case a.h != nil:
		return a.h.Count == b.h.Count && sameFloatHistogram(a.h.ToFloat(), b.h.ToFloat())
	case a.fh != nil:
		return sameFloatHistogram(a.fh, b.fh)
	}
	return math.Float64bits(a.v) == math.Float64bits(b.v)
}

// errClass names an append's outcome in both engines' terms.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, tsdb.ErrDuplicate), errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		return "duplicate"
	case errors.Is(err, tsdb.ErrOutOfOrder), errors.Is(err, storage.ErrOutOfOrderSample):
		return "out of order"
	}
	return err.Error()
}

func tsdbHistogramsAgree(t *testing.T, window int64, batches bool) {
	const nSeries, steps = 4, 600
	ints, _ := HistogramData(nSeries, steps)
	floats, _ := FloatHistogramData(nSeries, steps)

	dir := t.TempDir()
	opts := tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true, FutureGrace: -1, OutOfOrderWindow: window}
	ours, err := tsdb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ours.Close() }()
	popts := promtsdb.DefaultOptions()
	popts.OutOfOrderTimeWindow = window
	prom, err := promtsdb.Open(t.TempDir(), slog.New(slog.DiscardHandler), nil, popts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()
	prom.DisableCompactions()

	rng := rand.New(rand.NewPCG(11, uint64(window)))
	last := make([]sample, nSeries)
	ok := 0
	// value returns series i's sample of the given kind at step k.
	value := func(i, kind, k int, ts int64) sample {
		switch kind {
		case 1:
			return sample{t: ts, h: ints[i].H[k]}
		case 2:
			return sample{t: ts, fh: floats[i].H[k]}
		}
		return sample{t: ts, v: float64(k*10 + i)}
	}
	var app tsdb.Appender
	var papp storage.Appender
	for k := range steps {
		ts := int64(k) * 15_000
		if batches && k%2 == 0 {
			app, papp = ours.Appender(context.Background()), prom.Appender(context.Background())
		}
		for i := range nSeries {
			// Series 0 floats, 1 integer and 2 float histograms; series 3
			// changes kind every 50 steps.
			kind := i
			if i == 3 {
				kind = k / 50 % 3
				if batches {
					kind = rng.IntN(3)
				}
			}
			s := value(i, kind, k, ts)
			switch r := rng.IntN(20); {
			case batches:
			case k > 0 && r == 0: // the newest sample again, same value
				s = last[i]
			case k > 0 && r == 1: // the newest timestamp, another kind or value
				s = value(i, (kind+1+rng.IntN(2))%3, k, last[i].t)
			case k > 4 && r == 2: // out of order, within the window if any
				s = value(i, kind, k, last[i].t-int64(1+rng.IntN(4))*15_000+7)
			}
			l := model.MustFromStrings(model.MetricName, "agree", "i", fmt.Sprint(i))
			if !batches {
				app = ours.Appender(context.Background())
			}
			var e1 error
			if s.h == nil && s.fh == nil {
				_, e1 = app.Append(0, l, s.t, s.v)
			} else {
				_, e1 = app.AppendHistogram(0, l, s.t, s.h, s.fh)
			}
			if batches {
				// committed below
			} else if e1 == nil {
				e1 = app.Commit()
			} else {
				app.Rollback()
			}
			if !batches {
				papp = prom.Appender(context.Background())
			}
			pl := labels.FromStrings("__name__", "agree", "i", fmt.Sprint(i))
			var e2 error
			switch {
			case s.h != nil:
				_, e2 = papp.AppendHistogram(0, pl, s.t, ToPrometheus(s.h), nil)
			case s.fh != nil:
				_, e2 = papp.AppendHistogram(0, pl, s.t, nil, FloatToPrometheus(s.fh))
			default:
				_, e2 = papp.Append(0, pl, s.t, s.v)
			}
			if batches {
				// committed below
			} else if e2 == nil {
				e2 = papp.Commit()
			} else {
				papp.Rollback()
			}
			if errClass(e1) != errClass(e2) {
				t.Fatalf("series %d step %d, append %v: stage06 %v, Prometheus %v", i, k, s, e1, e2)
			}
			if e1 == nil {
				ok++
				if s.t > last[i].t || k == 0 {
					last[i] = s
				}
			}
		}
		if batches && k%2 == 1 {
			if err := app.Commit(); err != nil {
				t.Fatalf("step %d: stage06 commit: %v", k, err)
			}
			if err := papp.Commit(); err != nil {
				t.Fatalf("step %d: Prometheus commit: %v", k, err)
			}
		}
	}
	want := promSamples(t, prom)
	check := func(what string) {
		t.Helper()
		got := ourSamples(t, ours)
		if len(got) != len(want) {
			t.Fatalf("%s: %d series, Prometheus %d", what, len(got), len(want))
		}
		for k, w := range want {
			g := got[k]
			if len(g) != len(w) {
				t.Fatalf("%s: %s: %d samples, Prometheus %d", what, k, len(g), len(w))
			}
			for j := range w {
				if !sameStored(g[j], w[j]) {
					t.Fatalf("%s: %s sample %d: stage06 %v, Prometheus %v", what, k, j, g[j], w[j])
				}
			}
		}
	}
	check("head")
	ours.Close()
	if ours, err = tsdb.Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	check("after restart")
	if _, err := ours.FlushHead(); err != nil {
		t.Fatal(err)
	}
	if err := ours.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(ours.Blocks()) == 0 {
		t.Fatal("no blocks")
	}
	check("blocks")
	t.Logf("%d appends stored by both", ok)
}

func ourSamples(t *testing.T, db *tsdb.DB) map[string][]sample {
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string][]sample{}
	ss := q.Select(index.MustNewMatcher(index.MatchEqual, model.MetricName, "agree"))
	for ss.Next() {
		it := ss.At().Iterator(nil).(tsdb.HistogramIterator)
		var got []sample
		for it.Next() {
			switch it.Type() {
			case tsdb.ValFloat:
				ts, v := it.At()
				got = append(got, sample{t: ts, v: v})
			case tsdb.ValHistogram:
				ts, h := it.AtHistogram(nil)
				got = append(got, sample{t: ts, h: h})
			case tsdb.ValFloatHistogram:
				ts, h := it.AtFloatHistogram(nil)
				got = append(got, sample{t: ts, fh: h})
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[ss.At().Labels().Get("i")] = got
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func promSamples(t *testing.T, db *promtsdb.DB) map[string][]sample {
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string][]sample{}
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "agree"))
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		var got []sample
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				ts, v := it.At()
				got = append(got, sample{t: ts, v: v})
			case chunkenc.ValHistogram:
				ts, h := it.AtHistogram(nil)
				got = append(got, sample{t: ts, h: FromPrometheus(h)})
			case chunkenc.ValFloatHistogram:
				ts, h := it.AtFloatHistogram(nil)
				got = append(got, sample{t: ts, fh: FloatFromPrometheus(h)})
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[ss.At().Labels().Get("i")] = got
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
