package tsdb

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
)

// oracle is the model the tests check the DB against: series → samples.
type oracle map[string]map[int64]float64

func (o oracle) add(l model.Labels, t int64, v float64) {
	k := l.String()
	if o[k] == nil {
		o[k] = map[int64]float64{}
	}
	o[k][t] = v
}

func (o oracle) del(mint, maxt int64, match func(string) bool) {
	for k, m := range o {
		if !match(k) {
			continue
		}
		for t := range m {
			if t >= mint && t <= maxt {
				delete(m, t)
			}
		}
	}
}

// expect returns the oracle's answer as series name → sorted samples.
func (o oracle) expect(mint, maxt int64, match func(string) bool) map[string][]model.Sample {
	out := map[string][]model.Sample{}
	for k, m := range o {
		if match != nil && !match(k) {
			continue
		}
		var ss []model.Sample
		for t, v := range m {
			if t >= mint && t <= maxt {
				ss = append(ss, model.Sample{T: t, V: v})
			}
		}
		if len(ss) == 0 {
			continue
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].T < ss[j].T })
		out[k] = ss
	}
	return out
}

// collect runs a query and returns series name → samples, checking the
// set is sorted and the samples strictly increase in time.
func collect(t testing.TB, db *DB, mint, maxt int64, ms ...*index.Matcher) map[string][]model.Sample {
	t.Helper()
	q, err := db.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	return collectQ(t, q, ms...)
}

func collectQ(t testing.TB, q Querier, ms ...*index.Matcher) map[string][]model.Sample {
	t.Helper()
	out := map[string][]model.Sample{}
	ss := q.Select(ms...)
	var prev model.Labels
	first := true
	var it Iterator
	for ss.Next() {
		s := ss.At()
		if !first && prev.Compare(s.Labels()) >= 0 {
			t.Fatalf("series set not sorted: %s then %s", prev, s.Labels())
		}
		first, prev = false, s.Labels()
		it = s.Iterator(it)
		var got []model.Sample
		for it.Next() {
			ts, v := it.At()
			if len(got) > 0 && ts <= got[len(got)-1].T {
				t.Fatalf("%s: samples not increasing: %d after %d", s.Labels(), ts, got[len(got)-1].T)
			}
			got = append(got, model.Sample{T: ts, V: v})
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			out[s.Labels().String()] = got
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalResults(t testing.TB, got, want map[string][]model.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: got %d samples, want %d (first got %v, want %v)", k, len(g), len(w), head(g), head(w))
		}
		for i := range w {
			if g[i].T != w[i].T || math.Float64bits(g[i].V) != math.Float64bits(w[i].V) {
				t.Fatalf("%s sample %d: got %v, want %v", k, i, g[i], w[i])
			}
		}
	}
}

func head(s []model.Sample) []model.Sample {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func testOpts() Options {
	return Options{BlockRange: 2 * Hour, WALSync: wal.SyncNone, NoBackgroundCompaction: true, HeadChunkFileSize: 1 << 20}
}

func openDB(t testing.TB, dir string, o Options) *DB {
	t.Helper()
	db, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func lbls(metric string, kv ...string) model.Labels {
	return model.MustFromStrings(append([]string{model.MetricName, metric}, kv...)...)
}

func seriesName(i int) model.Labels {
	return lbls("m", "i", fmt.Sprint(i), "job", fmt.Sprint("j", i%3))
}

// ingest appends samples for n series at times start, start+step, …, one
// commit per timestamp (a scrape), into db and the oracle.
func ingest(t testing.TB, db *DB, o oracle, n int, start, step int64, count int) {
	t.Helper()
	if err := ingestErr(db, o, n, start, step, count); err != nil {
		t.Fatal(err)
	}
}

// ingestErr is ingest for a goroutine other than the test's: it returns
// its error instead of failing the test.
func ingestErr(db *DB, o oracle, n int, start, step int64, count int) error {
	refs := make([]uint64, n)
	for k := range count {
		ts := start + int64(k)*step
		app := db.Appender(nil)
		for i := range n {
			l := seriesName(i)
			v := float64(i*1000+k) + 0.5
			ref, err := app.Append(refs[i], l, ts, v)
			if err != nil {
				return fmt.Errorf("append series %d t=%d: %w", i, ts, err)
			}
			refs[i] = ref
			if o != nil {
				o.add(l, ts, v)
			}
		}
		if err := app.Commit(); err != nil {
			return err
		}
	}
	return nil
}
