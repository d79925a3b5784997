package cardinality

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// fakeClock is a settable clock for snapshots and dropped-write windows.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// feed adds n series of a metric with one label of card values and an
// id label, and samples each series weight(i) times.
func feed(tr *Tracker, metric string, n, card int, weight func(i int) int) []model.Labels {
	var out []model.Labels
	for i := range n {
		ls := lbls("__name__", metric, "job", fmt.Sprint("job", i%card), "id", fmt.Sprint(i))
		h := ls.Hash()
		tr.SeriesCreated(ls, h)
		for range weight(i) {
			tr.Sample(h, ls)
		}
		out = append(out, ls)
	}
	return out
}

// TestTrackerEstimates: per-metric and per-label estimates against the
// exact counts the feed made; top series by samples within their bound.
func TestTrackerEstimates(t *testing.T) {
	tr := NewTracker(TrackerOptions{TopSeries: 512})
	feed(tr, "a", 20000, 7, func(i int) int { return 1 })
	hot := feed(tr, "b", 50, 3, func(i int) int { return 1000 + 10*i })
	if e := relErr(tr.Total(), 20050); e > 3*StdError {
		t.Fatalf("total %d, error %.4f", tr.Total(), e)
	}
	ms := tr.Metrics()
	if len(ms) != 2 || ms[0].Name != "a" || ms[1].Name != "b" {
		t.Fatalf("metrics %+v", ms)
	}
	if ms[1].Series != 50 {
		t.Fatalf("b: %d series, want 50 (sparse, exact at this size)", ms[1].Series)
	}
	a := ms[0]
	if a.Labels[0].Name != "id" || relErr(a.Labels[0].Values, 20000) > 3*StdError {
		t.Fatalf("a's labels %+v", a.Labels)
	}
	if a.Labels[1].Name != "job" || a.Labels[1].Values != 7 {
		t.Fatalf("a's job label %+v, want 7 values", a.Labels[1])
	}
	if len(a.Labels[0].Sample) != sampleSize {
		t.Fatalf("sample of id: %v", a.Labels[0].Sample)
	}
	top := tr.TopSeries(10)
	for i, e := range top {
		// the 10 hottest of b: id 49 down to 40, with 1049 … 1040 samples
		want := hot[49-i]
		if !e.Labels.Equal(want) {
			t.Fatalf("top %d: %v, want %v", i, e.Labels, want)
		}
		if tr := uint64(1000 + 10*(49-i)); e.Lower() > tr || tr > e.Count {
			t.Fatalf("%v: count %d err %d, true %d", e.Labels, e.Count, e.Err, tr)
		}
	}
}

// TestTrackerPersistence: save, load: every estimate, sample, heavy
// hitter and snapshot comes back; the file is replaced atomically and a
// damaged file is refused, not half-loaded.
func TestTrackerPersistence(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	tr := NewTracker(TrackerOptions{Now: clk.Now, TopSeries: 32})
	for h := range 5 {
		feed(tr, fmt.Sprint("m", h), 1000*(h+1), 5, func(i int) int { return i % 17 })
		tr.Snapshot()
		clk.Advance(time.Hour)
	}
	if err := tr.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadTracker(dir, TrackerOptions{Now: clk.Now, TopSeries: 32})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Metrics(), tr.Metrics()) {
		t.Fatal("metrics differ after reload")
	}
	if back.Total() != tr.Total() {
		t.Fatal("total differs after reload")
	}
	if !reflect.DeepEqual(back.History(), tr.History()) || len(back.History()) != 5 {
		t.Fatalf("history differs: %v vs %v", back.History(), tr.History())
	}
	asMap := func(es []Entry[LabelValue]) map[LabelValue]Entry[LabelValue] {
		m := map[LabelValue]Entry[LabelValue]{}
		for _, e := range es {
			m[e.Key] = e
		}
		return m
	}
	if !reflect.DeepEqual(asMap(back.TopLabelValues(0)), asMap(tr.TopLabelValues(0))) {
		t.Fatal("top label values differ")
	}
	ts, bs := tr.TopSeries(0), back.TopSeries(0)
	if len(ts) != len(bs) {
		t.Fatalf("top series: %d vs %d", len(ts), len(bs))
	}
	for i := range ts {
		if !ts[i].Labels.Equal(bs[i].Labels) || ts[i].Count != bs[i].Count || ts[i].Err != bs[i].Err {
			t.Fatalf("top series %d: %+v vs %+v", i, ts[i], bs[i])
		}
	}
	// A reloaded tracker keeps tracking: the old series are not new to it.
	before := back.Total()
	feed(back, "m0", 1000, 5, func(int) int { return 0 })
	if back.Total() != before {
		t.Fatalf("re-adding known series moved the total %d → %d", before, back.Total())
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != TrackerFile {
		t.Fatalf("dir holds %v, want only %s (no temp files left)", entries, TrackerFile)
	}
	path := filepath.Join(dir, TrackerFile)
	b, _ := os.ReadFile(path)
	for _, cut := range []int{len(b) - 1, len(b) / 2, 10} {
		if _, err := UnmarshalTracker(b[:cut], TrackerOptions{}); !errors.Is(err, ErrTrackerFile) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
	b[len(b)/3] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTracker(dir, TrackerOptions{}); !errors.Is(err, ErrTrackerFile) {
		t.Fatalf("flipped bit: %v", err)
	}
	// No file: an empty tracker.
	empty, err := LoadTracker(t.TempDir(), TrackerOptions{})
	if err != nil || empty.Total() != 0 {
		t.Fatalf("missing file: %v, total %d", err, empty.Total())
	}
}

// TestTrackerMerge: two trackers of two halves merge into the estimates
// of the whole.
func TestTrackerMerge(t *testing.T) {
	a, b, whole := NewTracker(TrackerOptions{}), NewTracker(TrackerOptions{}), NewTracker(TrackerOptions{})
	for i := range 30000 {
		ls := lbls("__name__", fmt.Sprint("m", i%3), "id", fmt.Sprint(i))
		h := ls.Hash()
		whole.SeriesCreated(ls, h)
		if i%2 == 0 {
			a.SeriesCreated(ls, h)
		} else {
			b.SeriesCreated(ls, h)
		}
	}
	a.Merge(b)
	if !reflect.DeepEqual(a.Metrics(), whole.Metrics()) || a.Total() != whole.Total() {
		t.Fatal("merged tracker differs from the one that saw everything")
	}
}

// TestTrackerConcurrent: samples and series from several goroutines (run
// with -race); the totals add up.
func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				ls := lbls("__name__", "m", "g", fmt.Sprint(g), "i", fmt.Sprint(i))
				h := ls.Hash()
				if g%2 == 0 {
					tr.SeriesCreated(ls, h)
				} else {
					tr.Offer(ls, h, true) // in the background
				}
				tr.Sample(h, ls)
				if i%500 == 0 {
					_ = tr.Metrics()
					_ = tr.TopSeries(5)
				}
			}
		}()
	}
	wg.Wait()
	var n uint64
	for i := range tr.shards {
		n += tr.shards[i].top.Total()
	}
	if n != 8000 {
		t.Fatalf("samples counted %d, want 8000", n)
	}
	if m, _ := tr.Metric("m"); relErr(m.Series, 8000) > 3*StdError {
		t.Fatalf("series %d, want 8000 ± 3σ", m.Series)
	}
}

// TestTrackerOffer: series offered (batched, added by a worker) are all
// in every answer given after the Offer returned, and a full queue makes
// Offer add them itself.
func TestTrackerOffer(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	exact := NewCounter()
	n := intakeBatch*(intakeQueue+3) + 17
	for i := range n {
		ls := lbls("__name__", fmt.Sprint("m", i%3), "i", fmt.Sprint(i))
		exact.Add(ls, ls.Hash())
		tr.Offer(ls, ls.Hash(), i%5 != 0)
		if i == 5000 {
			if m, _ := tr.Metric("m1"); relErr(m.Series, 5001/3) > 3*StdError {
				t.Fatalf("after 5,001 offers m1 has %d series", m.Series)
			}
		}
	}
	if got := tr.Total(); relErr(got, n) > 3*StdError {
		t.Fatalf("total %d, want %d", got, n)
	}
	for _, m := range tr.Metrics() {
		if want := exact.Exact().Metrics[m.Name]; relErr(m.Series, want) > 3*StdError {
			t.Fatalf("%s: %d, want %d", m.Name, m.Series, want)
		}
	}
	// Refused series (every fifth) are not counted among label values:
	// the summary's total is one per created series (one label each).
	tr.Flush()
	if want := uint64(n - (n+4)/5); tr.values.Total() != want {
		t.Fatalf("label values count %d created series, want %d", tr.values.Total(), want)
	}
}
