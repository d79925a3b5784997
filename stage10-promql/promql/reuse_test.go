package promql_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
)

// reusingStorage serves its series the way stage06's querier does through
// stage15's adapter: each series takes back the previous series' iterator
// (ReuseIterator) and its iterators hand out their samples as a slice
// (Samples). On reuse it first overwrites the old iterator's buffer with
// garbage, so an engine that still read a series after handing its
// iterator back would give wrong answers.
type reusingStorage struct {
	st    promql.Storage
	reuse int // iterators handed back, for the test to check the path ran
}

func (r *reusingStorage) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	return &reusingSet{SeriesSet: r.st.Select(ctx, mint, maxt, ms...), r: r}
}

type reusingSet struct {
	promql.SeriesSet
	r *reusingStorage
}

func (s *reusingSet) At() promql.StorageSeries { return reusingSeries{s.SeriesSet.At(), s.r} }

type reusingSeries struct {
	s promql.StorageSeries
	r *reusingStorage
}

func (s reusingSeries) Labels() model.Labels      { return s.s.Labels() }
func (s reusingSeries) Iterator() promql.Iterator { return s.ReuseIterator(nil) }

func (s reusingSeries) ReuseIterator(old promql.Iterator) promql.Iterator {
	it, _ := old.(*pooledIter)
	if it == nil {
		it = &pooledIter{}
	} else {
		s.r.reuse++
		for i := range it.buf {
			it.buf[i] = model.Sample{T: int64(i), V: math.NaN()}
		}
	}
	it.buf, it.i = it.buf[:0], -1
	src := s.s.Iterator()
	for src.Next() {
		t, v := src.At()
		it.buf = append(it.buf, model.Sample{T: t, V: v})
	}
	return it
}

type pooledIter struct {
	buf []model.Sample
	i   int
}

func (p *pooledIter) Next() bool              { p.i++; return p.i < len(p.buf) }
func (p *pooledIter) At() (int64, float64)    { return p.buf[p.i].T, p.buf[p.i].V }
func (p *pooledIter) Err() error              { return nil }
func (p *pooledIter) Samples() []model.Sample { return p.buf[min(p.i+1, len(p.buf)):] }

// TestReusedIteratorPath: every query of the consistency list gives the
// same answer through a storage that reuses iterators and hands out
// slices from them as through plain iterators and through the series
// slice path; with every series a rangePipe task of its own (many series
// in flight on the workers, iterators handed back out of order) and with
// everything on the main goroutine.
func TestReusedIteratorPath(t *testing.T) {
	for _, cost := range []int{1, 1 << 30} {
		t.Run(fmt.Sprintf("taskCost=%d", cost), func(t *testing.T) {
			defer promql.SetTaskCost(cost)()
			testReusedIteratorPath(t)
		})
	}
	t.Run("GOMAXPROCS=1", func(t *testing.T) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		defer promql.SetTaskCost(1)()
		testReusedIteratorPath(t)
	})
}

// TestOneCoreRunsTasksAsTheyFill: without workers, a range function's
// tasks still run (and hand their iterators back for reuse) as they fill,
// not all together at the end of the query, which would hold every
// series' points and samples at once and ignore cancellation until then.
func TestOneCoreRunsTasksAsTheyFill(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer promql.SetTaskCost(1)()
	rs := &reusingStorage{st: demoStorage(t)}
	v, err := promql.NewEngine(promql.Opts{}).QueryRange(context.Background(), rs, `sum(rate(http_requests_total[5m]))`, demoStart, demoEnd, time.Minute)
	if err != nil || len(v) != 1 {
		t.Fatalf("%v, %v", v, err)
	}
	if rs.reuse == 0 {
		t.Fatal("no iterator was handed back before the query ended")
	}
}

func testReusedIteratorPath(t *testing.T) {
	st := demoStorage(t)
	reusing := &reusingStorage{st: st}
	plain := &countingStorage{st: st, iterOnly: true}
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	for _, q := range queries {
		for name, st := range map[string]promql.Storage{"slices": st, "reused": reusing} {
			a, err1 := eng.QueryRange(ctx, st, q, demoStart, demoEnd, time.Minute)
			b, err2 := eng.QueryRange(ctx, plain, q, demoStart, demoEnd, time.Minute)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v / %v", q, err1, err2)
			}
			if a.String() != b.String() {
				t.Errorf("%s: %s path and iterator path differ", q, name)
			}
			ai, err1 := eng.Query(ctx, st, q, demoEnd.Add(-17*time.Minute))
			bi, err2 := eng.Query(ctx, plain, q, demoEnd.Add(-17*time.Minute))
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v / %v", q, err1, err2)
			}
			if ai.String() != bi.String() {
				t.Errorf("%s (instant): %s path and iterator path differ", q, name)
			}
		}
	}
	if reusing.reuse == 0 {
		t.Error("the engine never handed an iterator back")
	}
}

// TestRateMatchesScratch: rate, increase, delta and resets of a range
// query, which slide each window over the series (counting falls as the
// window moves, skipping that count for series without any), equal,
// bit for bit, Prometheus's formula applied to each window from scratch,
// on random counters with and without resets, stale markers and gaps,
// through all three storage paths.
func TestRateMatchesScratch(t *testing.T) {
	defer promql.SetTaskCost(1)() // the pipeline, on the workers
	rng := rand.New(rand.NewPCG(7, 8))
	st := promql.NewMemStorage()
	raw := map[string][]model.Sample{}
	start := time.Unix(1_700_000_000, 0)
	// Series 40-49 are scraped every 15 s without resets, as most counters
	// are: consecutive windows have the same shape (rateMemo's case), and
	// the even ones start at 0, so early windows stop their extrapolation
	// at the counter's zero.
	for s := range 50 {
		l := model.MustFromStrings(model.MetricName, "c", "s", fmt.Sprint(s))
		tm, v := start.UnixMilli()-int64(rng.IntN(600_000)), float64(rng.IntN(1000))
		regular := s >= 40
		if regular && s%2 == 0 {
			v = 0
		}
		resets := s%3 == 0 && !regular
		for range 400 {
			if regular {
				tm += 15_000
			} else {
				tm += 1000 + int64(rng.IntN(29_000))
				if rng.IntN(40) == 0 {
					tm += int64(rng.IntN(900_000)) // a gap longer than some windows
				}
			}
			switch r := rng.IntN(50); {
			case regular:
				v += float64(rng.IntN(6))
			case resets && r < 2:
				v = float64(rng.IntN(5))
			case r == 2 && s%4 == 1:
				if err := st.Append(l, tm, promql.StaleNaN); err != nil {
					t.Fatal(err)
				}
				continue
			default:
				v += float64(rng.IntN(100)) + rng.Float64()
			}
			if err := st.Append(l, tm, v); err != nil {
				t.Fatal(err)
			}
			raw[l.Without(model.MetricName).String()] = append(raw[l.Without(model.MetricName).String()], model.Sample{T: tm, V: v})
		}
	}
	storages := map[string]promql.Storage{
		"slices":   st,
		"iterator": &countingStorage{st: st, iterOnly: true},
		"reused":   &reusingStorage{st: st},
	}
	eng := promql.NewEngine(promql.Opts{})
	end := start.Add(3 * time.Hour)
	for _, fn := range []string{"rate", "increase", "delta", "resets"} {
		for _, rg := range []time.Duration{time.Minute, 5 * time.Minute, 17 * time.Minute} {
			for _, step := range []time.Duration{15 * time.Second, time.Minute, 7 * time.Minute} {
				q := fmt.Sprintf("%s(c[%ds])", fn, int(rg.Seconds()))
				for name, st := range storages {
					v, err := eng.QueryRange(context.Background(), st, q, start, end, step)
					if err != nil {
						t.Fatalf("%s: %v", q, err)
					}
					got := map[string]map[int64]float64{}
					for _, s := range v {
						m := map[int64]float64{}
						for _, p := range s.Floats {
							m[p.T] = p.V
						}
						got[s.Metric.String()] = m
					}
					n := 0
					for key, samples := range raw {
						for ts := start.UnixMilli(); ts <= end.UnixMilli(); ts += step.Milliseconds() {
							want, ok := scratchRange(fn, samples, ts-rg.Milliseconds(), ts)
							g, have := got[key][ts]
							if ok != have || (ok && math.Float64bits(g) != math.Float64bits(want)) {
								t.Fatalf("%s via %s, %s at %d: got %v (%v), want %v (%v)", q, name, key, ts, g, have, want, ok)
							}
							if ok {
								n++
							}
						}
					}
					if n == 0 {
						t.Fatalf("%s: no points", q)
					}
				}
			}
		}
	}
}

// scratchRange is the oracle: the window (start, end] cut from the whole
// series and Prometheus's extrapolatedRate (promql/functions.go) or
// resets applied to it, the reset scan always done.
func scratchRange(fn string, all []model.Sample, start, end int64) (float64, bool) {
	var w []model.Sample
	for _, p := range all {
		if p.T > start && p.T <= end {
			w = append(w, p)
		}
	}
	if fn == "resets" {
		if len(w) == 0 {
			return 0, false
		}
		n := 0
		for i := 1; i < len(w); i++ {
			if w[i].V < w[i-1].V {
				n++
			}
		}
		return float64(n), true
	}
	if len(w) < 2 {
		return 0, false
	}
	isCounter, isRate := fn != "delta", fn == "rate"
	result := w[len(w)-1].V - w[0].V
	if isCounter {
		last := 0.0
		for _, p := range w {
			if p.V < last {
				result += last
			}
			last = p.V
		}
	}
	durationToStart := float64(w[0].T-start) / 1000
	durationToEnd := float64(end-w[len(w)-1].T) / 1000
	sampledInterval := float64(w[len(w)-1].T-w[0].T) / 1000
	averageDurationBetweenSamples := sampledInterval / float64(len(w)-1)
	extrapolationThreshold := averageDurationBetweenSamples * 1.1
	if durationToStart >= extrapolationThreshold {
		durationToStart = averageDurationBetweenSamples / 2
	}
	if isCounter && result > 0 && w[0].V >= 0 {
		durationToZero := sampledInterval * (w[0].V / result)
		if durationToZero < durationToStart {
			durationToStart = durationToZero
		}
	}
	if durationToEnd >= extrapolationThreshold {
		durationToEnd = averageDurationBetweenSamples / 2
	}
	factor := (sampledInterval + durationToStart + durationToEnd) / sampledInterval
	if isRate {
		factor /= float64(end-start) / 1000
	}
	return result * factor, true
}
