package shard

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage07-tsm/influxql"
)

// Milestone 1: every sample lands in the shard of its window, and only
// there; shards are created on demand and survive a restart.
func TestMilestone1_WritesRouteToCorrectShard(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			// 2024-01-14 18:00 to 2024-01-17 06:00 every 7 minutes:
			// crosses three midnights, not aligned to them.
			g := gen{hosts: 3, fields: 2, start: ms(day("2024-01-14").Add(18 * time.Hour)), end: ms(day("2024-01-17").Add(6 * time.Hour)), step: 7 * 60 * 1000}
			c := &clock{day("2024-01-17").Add(6 * time.Hour)}
			m := openManager(t, dir, eng, c, Options{})
			// Batches of 40 steps straddle midnights: the split path.
			writeAll(t, m.Write, g.batches(40))
			want := []string{"shard_2024-01-14", "shard_2024-01-15", "shard_2024-01-16", "shard_2024-01-17"}
			check := func(m *Manager) {
				t.Helper()
				var ids []string
				total := 0
				for _, sh := range m.sorted() {
					ids = append(ids, sh.id)
					// Read the shard's engine directly, over all time.
					got, err := sh.eng.Select(bg, -1<<62, 1<<62)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range got {
						for _, smp := range s.Samples {
							if smp.T < sh.start || smp.T >= sh.end {
								t.Fatalf("%s holds %v at %s", sh.id, s.Labels, time.UnixMilli(smp.T).UTC())
							}
						}
					}
					// … and it holds every sample of its window.
					var oracle []Series
					for _, b := range g.batches(1 << 30) {
						for _, s := range b {
							var in []model.Sample
							for _, smp := range s.Samples {
								if smp.T >= sh.start && smp.T < sh.end {
									in = append(in, smp)
								}
							}
							oracle = append(oracle, Series{Labels: s.Labels, Samples: in})
						}
					}
					slices.SortFunc(oracle, func(a, b Series) int { return a.Labels.Compare(b.Labels) })
					equalSeries(t, sh.id, got, oracle)
					total += countSamples(got)
				}
				if !slices.Equal(ids, want) {
					t.Fatalf("shards %v, want %v", ids, want)
				}
				if n := countSamples(g.batches(1 << 30)[0]); total != n {
					t.Fatalf("%d samples in shards, wrote %d", total, n)
				}
			}
			check(m)
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			m = openManager(t, dir, eng, c, Options{})
			defer m.Close()
			check(m)
		})
	}
}

// oracleStore writes the same data into one unsharded engine.
func oracleStore(t *testing.T, eng string, bs [][]Series) Engine {
	t.Helper()
	open, err := OpenerFor(eng)
	if err != nil {
		t.Fatal(err)
	}
	e, err := open(t.TempDir(), EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	writeAll(t, e.Append, bs)
	return e
}

// Milestone 2: a query over many shards returns exactly what one unsharded
// store with the same data returns, for Select and for InfluxQL.
func TestMilestone2_QueriesSpanShardsCorrectly(t *testing.T) {
	g := gen{hosts: 4, fields: 3, start: ms(day("2024-01-06").Add(3 * time.Hour)), end: ms(day("2024-01-15").Add(12 * time.Hour)), step: 5 * 60 * 1000}
	c := &clock{day("2024-01-15").Add(12 * time.Hour)}
	bs := g.batches(12)
	// The InfluxQL oracle is stage07 itself: its own executor on one
	// unsharded TSM engine.
	tsmOracle := oracleStore(t, EngineTSM, bs).(*TSMEngine).TSM()
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			m := openManager(t, t.TempDir(), eng, c, Options{QueryWorkers: 3, Policy: &Policy{}})
			defer m.Close()
			writeAll(t, m.Write, bs)
			oracle := oracleStore(t, eng, bs)
			if n := len(m.sorted()); n != 10 {
				t.Fatalf("%d shards, want 10", n)
			}
			d := day("2024-01-10")
			ranges := []struct {
				name       string
				mint, maxt int64
			}{
				{"all", -1 << 62, 1 << 62},
				{"one day exactly", ms(d), ms(d) + 86400000 - 1},
				{"across three boundaries", ms(d) - 3600000, ms(d.AddDate(0, 0, 2)) + 1},
				{"boundary ms", ms(d), ms(d)},
				{"last ms of a day", ms(d) - 1, ms(d) - 1},
				{"before the data", 0, ms(day("2024-01-05"))},
			}
			matchers := [][]*index.Matcher{
				nil,
				{mustMatcher(index.MatchEqual, "host", "server1")},
				{mustMatcher(index.MatchNotEqual, "region", "eu"), mustMatcher(index.MatchRegexp, FieldLabel, "usage_[02]")},
			}
			for _, r := range ranges {
				for i, ms := range matchers {
					want, err := oracle.Select(bg, r.mint, r.maxt, ms...)
					if err != nil {
						t.Fatal(err)
					}
					got, plan, err := m.Select(bg, r.mint, r.maxt, ms...)
					if err != nil {
						t.Fatal(err)
					}
					equalSeries(t, r.name, got, want)
					if r.name == "all" && i == 0 {
						if len(plan.Shards) != 10 || plan.Workers != 3 || plan.EstimatedPoints != int64(countSamples(want)) {
							t.Fatalf("plan %d shards, %d workers, %d points; want 10, 3, %d", len(plan.Shards), plan.Workers, plan.EstimatedPoints, countSamples(want))
						}
					}
				}
			}
			now := c.now()
			for _, q := range []string{
				"SELECT * FROM cpu WHERE time > '2024-01-14'",
				"SELECT usage_1 FROM cpu WHERE host='server2' AND time >= '2024-01-08T23:00:00Z' AND time < '2024-01-10T01:00:00Z'",
				"SELECT * FROM cpu WHERE (host='server0' OR region='us') AND time > now() - 36h",
				"SELECT mean(usage_0), max(usage_2), count(usage_1) FROM cpu WHERE region='eu' GROUP BY time(7h)",
				"SELECT mean(usage_0), sum(usage_1), min(usage_2) FROM cpu WHERE time >= '2024-01-07T05:00:00Z'",
			} {
				want, err := influxql.Run(tsmOracle, q, now)
				if err != nil {
					t.Fatal(q, err)
				}
				got, err := m.InfluxQL(bg, q, now)
				if err != nil {
					t.Fatal(q, err)
				}
				if !reflect.DeepEqual(got.Series, want.Series) || got.Result.Points != want.Points || got.SeriesScanned != want.SeriesScanned {
					t.Fatalf("%s:\n got %d series, %d points, %d scanned\nwant %d series, %d points, %d scanned", q,
						len(got.Series), got.Result.Points, got.SeriesScanned, len(want.Series), want.Points, want.SeriesScanned)
				}
				if len(want.Series) == 0 {
					t.Fatalf("%s: the oracle returned nothing: the test data is wrong", q)
				}
			}
		})
	}
}

// Milestone 3: retention deletes whole shards whose window ended more than
// the retention period ago, never part of one, durably.
func TestMilestone3_RetentionDeletesOldShards(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			g := gen{hosts: 2, fields: 2, start: ms(day("2024-01-05")), end: ms(day("2024-01-15").Add(12 * time.Hour)), step: 10 * 60 * 1000}
			c := &clock{day("2024-01-05")} // the clock follows the data in
			pol := Policy{ColdAfter: 48 * time.Hour, Retention: 7 * 24 * time.Hour}
			m := openManager(t, dir, eng, c, Options{Policy: &pol})
			bs := g.batches(6)
			writeAll(t, m.Write, bs)
			c.t = day("2024-01-15").Add(12 * time.Hour)
			if _, err := m.Tier(bg); err != nil {
				t.Fatal(err)
			}
			before, err := m.Shards()
			if err != nil {
				t.Fatal(err)
			}
			del, err := m.EnforceRetention()
			if err != nil {
				t.Fatal(err)
			}
			// cutoff 2024-01-08T12:00: shards ending by then go; shard
			// 01-08 ends 01-09 00:00, after it: kept whole.
			var ids []string
			for _, d := range del {
				ids = append(ids, d.ID)
				var was ShardInfo
				for _, s := range before {
					if s.ID == d.ID {
						was = s
					}
				}
				if d.Bytes != was.Bytes || d.Bytes == 0 {
					t.Fatalf("%s: freed %d bytes, it had %d", d.ID, d.Bytes, was.Bytes)
				}
				if _, err := os.Stat(was.Dir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s: directory still there: %v", d.ID, err)
				}
			}
			want := []string{"shard_2024-01-05", "shard_2024-01-06", "shard_2024-01-07"}
			if !slices.Equal(ids, want) {
				t.Fatalf("deleted %v, want %v", ids, want)
			}
			check := func(m *Manager) {
				t.Helper()
				got, _, err := m.Select(bg, -1<<62, 1<<62)
				if err != nil {
					t.Fatal(err)
				}
				// Oracle: exactly the samples from 2024-01-08 00:00 on.
				var kept [][]Series
				for _, b := range bs {
					var nb []Series
					for _, s := range b {
						var in []model.Sample
						for _, smp := range s.Samples {
							if smp.T >= ms(day("2024-01-08")) {
								in = append(in, smp)
							}
						}
						nb = append(nb, Series{Labels: s.Labels, Samples: in})
					}
					kept = append(kept, nb)
				}
				o, err := oracleStore(t, eng, kept).Select(bg, -1<<62, 1<<62)
				if err != nil {
					t.Fatal(err)
				}
				equalSeries(t, "after retention", got, o)
				if first := got[0].Samples[0].T; first != ms(day("2024-01-08")) {
					t.Fatalf("oldest sample %s: the straddling shard lost data", time.UnixMilli(first).UTC())
				}
			}
			check(m)
			if again, err := m.EnforceRetention(); err != nil || len(again) != 0 {
				t.Fatalf("second pass deleted %v, %v", again, err)
			}
			old := []Series{{Labels: g.labels(0, 0), Samples: []model.Sample{{T: ms(day("2024-01-06")), V: 1}}}}
			if err := m.Write(old); !errors.Is(err, ErrExpired) {
				t.Fatalf("write into a deleted window: %v, want ErrExpired", err)
			}
			m.Close()
			m = openManager(t, dir, eng, c, Options{})
			defer m.Close()
			if n := len(m.sorted()); n != 8 {
				t.Fatalf("after restart %d shards, want 8", n)
			}
			check(m)
		})
	}
}

// Milestone 4: hot → warm → cold by the clock; warm and cold shards are
// read-only, cold ones fully compacted in the cold directory; queries see
// the same data throughout, and a restart resumes every state.
func TestMilestone4_HotColdTiering(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			dir, cold := t.TempDir(), t.TempDir()
			g := gen{hosts: 3, fields: 2, start: ms(day("2024-01-11")), end: ms(day("2024-01-15").Add(12 * time.Hour)), step: 5 * 60 * 1000}
			c := &clock{day("2024-01-15").Add(12 * time.Hour)}
			pol := Policy{WarmAfter: 0, ColdAfter: 48 * time.Hour, Retention: 30 * 24 * time.Hour}
			opts := Options{Policy: &pol, ColdDir: cold}
			m := openManager(t, dir, eng, c, opts)
			bs := g.batches(24)
			writeAll(t, m.Write, bs)
			oracle, err := oracleStore(t, eng, bs).Select(bg, -1<<62, 1<<62)
			if err != nil {
				t.Fatal(err)
			}
			states := func(m *Manager) map[string]State {
				out := map[string]State{}
				infos, err := m.Shards()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range infos {
					out[s.ID] = s.State
					inCold := filepath.Dir(s.Dir) == cold
					if _, err := os.Stat(s.Dir); err != nil || inCold != (s.State == Cold) {
						t.Fatalf("%s (%s) at %s: %v", s.ID, s.State, s.Dir, err)
					}
					if s.State == Cold && s.Files != 1 {
						t.Fatalf("%s is cold with %d files, want 1 (fully compacted)", s.ID, s.Files)
					}
				}
				return out
			}
			all := func(m *Manager) {
				t.Helper()
				got, _, err := m.Select(bg, -1<<62, 1<<62)
				if err != nil {
					t.Fatal(err)
				}
				equalSeries(t, "tiered", got, oracle)
			}
			if tr, err := m.Tier(bg); err != nil || len(tr) != 6 {
				t.Fatalf("tier: %v transitions, %v; want 6 (4 to warm, 2 of them on to cold)", tr, err)
			}
			want := map[string]State{"shard_2024-01-11": Cold, "shard_2024-01-12": Cold, "shard_2024-01-13": Warm, "shard_2024-01-14": Warm, "shard_2024-01-15": Hot}
			if got := states(m); !reflect.DeepEqual(got, want) {
				t.Fatalf("states %v, want %v", got, want)
			}
			all(m)
			late := []Series{{Labels: g.labels(0, 0), Samples: []model.Sample{{T: ms(day("2024-01-14")) + 1, V: 7}}}}
			if err := m.Write(late); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("write into a warm shard: %v, want ErrReadOnly", err)
			}
			if tr, err := m.Tier(bg); err != nil || len(tr) != 0 {
				t.Fatalf("second tier: %v, %v; want nothing to do", tr, err)
			}
			m.Close()

			m = openManager(t, dir, eng, c, Options{ColdDir: cold})
			if got := states(m); !reflect.DeepEqual(got, want) {
				t.Fatalf("after restart: states %v, want %v", got, want)
			}
			all(m)
			c.t = c.t.Add(24 * time.Hour)
			if _, err := m.Tier(bg); err != nil {
				t.Fatal(err)
			}
			want["shard_2024-01-13"], want["shard_2024-01-15"] = Cold, Warm
			if got := states(m); !reflect.DeepEqual(got, want) {
				t.Fatalf("a day later: states %v, want %v", got, want)
			}
			all(m)
			m.Close()
		})
	}
}
