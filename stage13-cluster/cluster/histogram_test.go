package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// histSeries makes n native histogram series of samples scrapes 15 s
// apart from t0: integer histograms (stage03's synthetic request
// latencies), every fourth series float histograms.
func histSeries(n, samples int, t0 int64, seed int) []remote.Series {
	out := make([]remote.Series, n)
	for i := range out {
		out[i].Labels = model.MustFromStrings("__name__", "rpc_latency", "host", fmt.Sprintf("server%d", i), "seed", fmt.Sprint(seed))
		if i%4 == 3 {
			_, fhs := gorilla.SyntheticFloatHistograms(samples, uint64(seed*1000+i))
			for k, h := range fhs {
				out[i].Histograms = append(out[i].Histograms, remote.HistogramSample{T: t0 + int64(k)*15_000, FH: h})
			}
			continue
		}
		_, hs := gorilla.SyntheticHistograms(samples, uint64(seed*1000+i))
		for k, h := range hs {
			out[i].Histograms = append(out[i].Histograms, remote.HistogramSample{T: t0 + int64(k)*15_000, H: h})
		}
	}
	return out
}

// histOracle is what was written: per series, per time, the histogram's
// count and sum, which histogram_count and histogram_sum must return bit
// for bit.
type histOracle map[string]map[int64][2]float64

func (o histOracle) add(series []remote.Series) {
	for _, s := range series {
		key := s.Labels.String()
		if o[key] == nil {
			o[key] = map[int64][2]float64{}
		}
		for _, h := range s.Histograms {
			if h.H != nil {
				o[key][h.T] = [2]float64{float64(h.H.Count), h.H.Sum}
			} else {
				o[key][h.T] = [2]float64{h.FH.Count, h.FH.Sum}
			}
		}
	}
}

// check asks node n, through the cluster's query path, for every
// histogram's count and sum in [t0, t1] (t1: the newest sample; a range
// query stepping onto each sample) and
// reads the merged series to see each histogram exactly once.
func (o histOracle) check(t *testing.T, n *Node, t0, t1 int64) int {
	t.Helper()
	st := n.Storage()
	ss := st.Select(context.Background(), t0, t1)
	seen := map[string]int{}
	for ss.Next() {
		s := ss.At()
		hs, _ := s.(promql.HistogramSeries)
		if hs == nil {
			t.Fatalf("%s: no histograms", s.Labels())
		}
		times := map[int64]bool{}
		for _, p := range hs.HistogramSamples() {
			if times[p.T] {
				t.Fatalf("through %s: %s@%d read twice", n.ID(), s.Labels(), p.T)
			}
			times[p.T] = true
			want, ok := o[s.Labels().String()][p.T]
			if !ok || want[0] != p.H.Count || math.Float64bits(want[1]) != math.Float64bits(p.H.Sum) {
				t.Fatalf("through %s: %s@%d: count %v sum %v, never written", n.ID(), s.Labels(), p.T, p.H.Count, p.H.Sum)
			}
		}
		seen[s.Labels().String()] = len(times)
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for key, pts := range o {
		if seen[key] != len(pts) {
			t.Fatalf("through %s: %s has %d histograms, want %d", n.ID(), key, seen[key], len(pts))
		}
	}
	// each write's series (by seed) over its own time range: a range
	// query past a series' last sample would see it again for the
	// lookback
	ranges := map[string][2]int64{}
	for key, pts := range o {
		seed := seedOf(key)
		r, ok := ranges[seed]
		if !ok {
			r = [2]int64{math.MaxInt64, math.MinInt64}
		}
		for ts := range pts {
			r[0], r[1] = min(r[0], ts), max(r[1], ts)
		}
		ranges[seed] = r
	}
	for seed, r := range ranges {
		for i, f := range []string{"histogram_count", "histogram_sum"} {
			q := fmt.Sprintf(`%s(rpc_latency{seed="%s"})`, f, seed)
			m, _, err := n.QueryRange(context.Background(), q, time.UnixMilli(r[0]), time.UnixMilli(r[1]), 15*time.Second, NoPushDown())
			if err != nil {
				t.Fatal(err)
			}
			series := 0
			for _, s := range m {
				key := model.MustFromStrings("__name__", "rpc_latency", "host", s.Metric.Get("host"), "seed", seed).String()
				want := o[key]
				series++
				if len(s.Floats) != len(want) {
					t.Fatalf("through %s: %s %s: %d points, want %d", n.ID(), q, key, len(s.Floats), len(want))
				}
				for _, p := range s.Floats {
					w, ok := want[p.T]
					if !ok || math.Float64bits(p.V) != math.Float64bits(w[i]) {
						t.Fatalf("through %s: %s %s@%d = %v, want %v", n.ID(), q, key, p.T, p.V, w[i])
					}
					checked++
				}
			}
			for key := range o {
				if seedOf(key) == seed {
					series--
				}
			}
			if series != 0 {
				t.Fatalf("through %s: %s: %d series more than written", n.ID(), q, series)
			}
		}
	}
	return checked
}

// seedOf is the seed label of a series key written by histSeries.
func seedOf(key string) string {
	_, rest, _ := strings.Cut(key, `seed="`)
	seed, _, _ := strings.Cut(rest, `"`)
	return seed
}

// TestHistogramsThroughCluster: native histograms written through one
// node's distributor are stored on their replicas (every replica with every
// histogram), read back through every node once each (replicas merged),
// and answer histogram_count and histogram_sum bit for bit as written;
// the same after a node is killed and the cluster healed without it, with
// histograms written meanwhile, and after it returns (hints and streaming).
func TestHistogramsThroughCluster(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	o := histOracle{}
	const per = 20
	t0 := nowMs()
	t0 -= t0 % 15_000
	write := func(n *Node, series []remote.Series) {
		t.Helper()
		res, err := n.Write(context.Background(), series)
		if err != nil {
			t.Fatalf("write through %s: %v", n.ID(), err)
		}
		if res.Samples != len(series)*per {
			t.Fatalf("write counted %d samples, want %d", res.Samples, len(series)*per)
		}
		o.add(series)
	}
	everywhere := func(stage string, t1 int64) {
		t.Helper()
		c.waitRing()
		for _, n := range c.nodes {
			checked := o.check(t, n, t0, t1)
			t.Logf("%s: %d counts and sums through %s", stage, checked, n.ID())
		}
		// every series on 2 nodes with every histogram
		have := map[string]int{}
		for _, n := range c.nodes {
			ss, _, err := readLocal(n.DB(), tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if len(s.Histograms) == len(o[s.Labels.String()]) {
					have[s.Labels.String()]++
				}
			}
		}
		for key := range o {
			if have[key] < 2 {
				t.Fatalf("%s: %s complete on %d nodes, want 2", stage, key, have[key])
			}
		}
	}
	write(c.nodes["node-1"], histSeries(40, per, t0, 1))
	everywhere("written", t0+(per-1)*15_000)

	// Aggregations: a histogram result (sum) is not pushed down, a float
	// one (count) is; both answer as the coordinator alone does.
	at := time.UnixMilli(t0 + (per-1)*15_000)
	n := c.nodes["node-2"]
	for _, q := range []string{`sum by (seed) (rpc_latency)`, `count by (seed) (rpc_latency)`, `histogram_count(sum(rpc_latency))`} {
		v, st, err := n.Query(context.Background(), q, at)
		if err != nil {
			t.Fatal(err)
		}
		ref, _, err := n.Query(context.Background(), q, at, NoPushDown())
		if err != nil {
			t.Fatal(err)
		}
		if v.String() != ref.String() || len(ref.(promql.Vector)) != 1 {
			t.Fatalf("%s: %s, coordinator alone %s", q, v, ref)
		}
		if pushed := st.Stats().PushedDown > 0; pushed != strings.HasPrefix(q, "count") {
			t.Fatalf("%s: pushed down %v (%+v)", q, pushed, st.Stats())
		}
	}

	c.kill("node-2")
	c.waitRing()
	t1 := t0 + per*15_000
	write(c.nodes["node-3"], histSeries(40, per, t1, 2))
	everywhere("node-2 killed, healed", t1+(per-1)*15_000)

	c.start("node-2")
	everywhere("node-2 back", t1+(per-1)*15_000)
}

// TestHintsCarryHistograms: a hint keeps a write's native histograms
// through the WAL and a reopen, and its replay sends them as written.
func TestHintsCarryHistograms(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHints(HintsConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	series := histSeries(4, 30, nowMs(), 3)
	if err := h.Add("n", series); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "n")); err != nil {
		t.Fatal(err)
	}
	h, err = OpenHints(HintsConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var got []remote.Series
	if _, err := h.Replay(context.Background(), "n", func(_ context.Context, s []remote.Series) error {
		got = append(got, s...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, have := histOracle{}, histOracle{}
	want.add(series)
	have.add(got)
	if len(got) != len(series) || fmt.Sprint(want) != fmt.Sprint(have) {
		t.Fatalf("replayed %d series %v, want %d %v", len(got), have, len(series), want)
	}
	kinds := 0
	for i := range got {
		if (got[i].Histograms[0].H != nil) != (series[i].Histograms[0].H != nil) {
			t.Fatalf("%s: integer/float kind changed", got[i].Labels)
		}
		if got[i].Histograms[0].FH != nil {
			kinds++
		}
	}
	if kinds == 0 {
		t.Fatal("no float histograms in the test data")
	}
}

// TestStoreWrite: a replica write is stored as it decodes, floats and
// histograms in one commit; a body that breaks off stores nothing and is
// a bad request, not a storage failure.
func TestStoreWrite(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	series := append(histSeries(3, 10, nowMs(), 4), genSeries(3, 10, nowMs(), 4)...)
	body := encodeWrite(series)
	refs := ingest.NewSeriesCache(1 << 10)
	post := func(b []byte) (int, error) {
		return storeWrite(db, refs, httptest.NewRequest(http.MethodPost, PathReplicaWrite, bytes.NewReader(b)))
	}
	if n, err := post(body[:len(body)-3]); !errors.Is(err, errBadWrite) || n != 0 {
		t.Fatalf("a cut body: %d stored, %v", n, err)
	}
	if got, _, _ := readLocal(db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil); len(got) != 0 {
		t.Fatalf("a cut body stored %d series", len(got))
	}
	for range 2 { // the second time: every sample a duplicate, stored once
		if n, err := post(body); err != nil || n != 60 {
			t.Fatalf("stored %d, %v; want 60", n, err)
		}
		// the second time by the refs the first one cached
		if refs.Len() != 6 {
			t.Fatalf("%d series refs cached, want 6", refs.Len())
		}
	}
	got, samples, err := readLocal(db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
	if err != nil || len(got) != 6 || samples != 60 {
		t.Fatalf("read %d series, %d samples, %v; want 6, 60", len(got), samples, err)
	}
	want, have := histOracle{}, histOracle{}
	want.add(series)
	have.add(got)
	if fmt.Sprint(want) != fmt.Sprint(have) {
		t.Fatalf("histograms stored %v, want %v", have, want)
	}
}

// TestStoreWriteStaleRefs: a cached ref the DB does not know (here the
// refs of another DB: a fresh one knows none) falls back to the series'
// labels, so every sample is stored in its own series all the same, and
// what the DB refuses is reported under the series' name.
func TestStoreWriteStaleRefs(t *testing.T) {
	series := append(histSeries(3, 10, nowMs(), 4), genSeries(3, 10, nowMs(), 4)...)
	body := encodeWrite(series)
	refs := ingest.NewSeriesCache(1 << 10)
	var got [][]remote.Series
	for range 2 {
		db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := storeWrite(db, refs, httptest.NewRequest(http.MethodPost, PathReplicaWrite, bytes.NewReader(body))); err != nil || n != 60 {
			t.Fatalf("stored %d, %v; want 60", n, err)
		}
		ss, _, err := readLocal(db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ss)
		db.Close()
	}
	want, first, second := histOracle{}, histOracle{}, histOracle{}
	want.add(series)
	first.add(got[0])
	second.add(got[1])
	if fmt.Sprint(first) != fmt.Sprint(want) || fmt.Sprint(second) != fmt.Sprint(want) {
		t.Fatalf("stored %v by labels and %v through stale refs, want %v", first, second, want)
	}
	for i := range got[0] {
		if !got[0][i].Labels.Equal(got[1][i].Labels) || len(got[0][i].Samples) != len(got[1][i].Samples) {
			t.Fatalf("series %d: %s with %d floats by labels, %s with %d through stale refs", i,
				got[0][i].Labels, len(got[0][i].Samples), got[1][i].Labels, len(got[1][i].Samples))
		}
	}

	// A refused sample of a series written by ref is reported with the
	// series' labels, not an empty set.
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fresh := ingest.NewSeriesCache(1 << 10)
	one := genSeries(1, 1, nowMs(), 1)
	if _, err := storeWrite(db, fresh, httptest.NewRequest(http.MethodPost, PathReplicaWrite, bytes.NewReader(encodeWrite(one)))); err != nil {
		t.Fatal(err)
	}
	one[0].Samples[0].T -= 60_000 // out of order: no window here
	_, err = storeWrite(db, fresh, httptest.NewRequest(http.MethodPost, PathReplicaWrite, bytes.NewReader(encodeWrite(one))))
	if err == nil || !strings.Contains(err.Error(), one[0].Labels.String()) {
		t.Fatalf("refused sample by ref: %v, want an error naming %s", err, one[0].Labels)
	}
}
