package tsdb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// TestConcurrentOracle runs appenders, queriers and compaction at once
// (run it with -race). Each appender owns its series, so the oracle is a
// formula: series (g, i) holds value g*1e6 + i*1e3 + k at time k*step for
// every committed k. Every query must see whole commits only (all series of
// an appender end at the same timestamp: isolation) with the right values,
// and at the end the DB must hold exactly the oracle.
func TestConcurrentOracle(t *testing.T) {
	const (
		appenders = 2
		series    = 40
		step      = int64(1000)
	)
	rounds := 600
	if testing.Short() {
		rounds = 200
	}
	opts := testOpts()
	opts.BlockRange = 20 * step // a head cut every ~10 commits
	opts.NoBackgroundCompaction = false
	opts.CompactionRanges = []int64{20 * step, 60 * step, 180 * step}
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	lsets := make([][]model.Labels, appenders)
	for g := range appenders {
		for i := range series {
			lsets[g] = append(lsets[g], lbls("c", "g", fmt.Sprint(g), "i", fmt.Sprint(i)))
		}
	}
	value := func(g, i int, k int64) float64 { return float64(g)*1e6 + float64(i)*1e3 + float64(k) }
	var committed [appenders]atomic.Int64
	for g := range committed {
		committed[g].Store(-1)
	}
	var wg sync.WaitGroup
	var done atomic.Bool
	errc := make(chan error, 16)
	for g := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs := make([]uint64, series)
			for k := range int64(rounds) {
				// Stay within a few scrapes of the other appender: a head
				// cut refuses samples older than the range it wrote.
				for o := range appenders {
					for k > committed[o].Load()+4 && !done.Load() {
						runtimeGosched()
					}
				}
				app := db.Appender(nil)
				for i := range series {
					ref, err := app.Append(refs[i], lsets[g][i], k*step, value(g, i, k))
					if err != nil {
						errc <- err
						return
					}
					refs[i] = ref
				}
				if err := app.Commit(); err != nil {
					errc <- err
					return
				}
				committed[g].Store(k)
			}
		}()
	}
	check := func(res map[string][]model.Sample, lo [appenders]int64) error {
		for g := range appenders {
			var last int64 = math.MinInt64
			for i := range series {
				ss := res[lsets[g][i].String()]
				for j, s := range ss {
					k := s.T / step
					if s.T != k*step || s.V != value(g, i, k) || (j > 0 && ss[j-1].T != s.T-step) || (j == 0 && k != 0) {
						return fmt.Errorf("series %s: bad sample %d: %v", lsets[g][i], j, s)
					}
				}
				end := int64(-1)
				if len(ss) > 0 {
					end = ss[len(ss)-1].T / step
				}
				if i > 0 && end != last {
					return fmt.Errorf("appender %d: series 0 ends at %d, series %d at %d: half a commit visible", g, last, i, end)
				}
				if end < lo[g] {
					return fmt.Errorf("appender %d: query misses commit %d (sees up to %d)", g, lo[g], end)
				}
				last = end
			}
		}
		return nil
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				var lo [appenders]int64
				for g := range lo {
					lo[g] = committed[g].Load()
				}
				q, err := db.Querier(math.MinInt64, math.MaxInt64)
				if err != nil {
					errc <- err
					return
				}
				res := func() map[string][]model.Sample {
					defer q.Close() // on every path: db.Close waits for it
					return collectQ(t, q, index.MustNewMatcher(index.MatchEqual, "__name__", "c"))
				}()
				if err := check(res, lo); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			if err := db.Compact(); err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() {
		for g := range appenders {
			for committed[g].Load() < int64(rounds)-1 {
				select {
				case err := <-errc:
					errc <- err
					done.Store(true)
					return
				default:
				}
				runtimeGosched()
			}
		}
		done.Store(true)
	}()
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	var lo [appenders]int64
	for g := range lo {
		lo[g] = int64(rounds) - 1
	}
	res := collect(t, db, math.MinInt64, math.MaxInt64)
	if err := check(res, lo); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block was written")
	}
	if err := db.BackgroundError(); err != nil {
		t.Fatal(err)
	}
}
