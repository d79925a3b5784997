package promql_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// allocated is how many bytes f allocated (all goroutines: the test runs
// nothing else meanwhile).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLimitsRefuseBeforeAllocating: a query over a limit is refused
// having allocated little, not once the memory is spent. Each case would
// allocate hundreds of megabytes (or, for the subqueries, gigabytes up to
// a crash) if the limit were checked only on what had been built.
func TestLimitsRefuseBeforeAllocating(t *testing.T) {
	if raceEnabled {
		// One goroutine's allocations, measured: the race detector adds
		// nothing but minutes to building the data.
		t.Skip("not under -race")
	}
	wide := promql.NewMemStorage() // 2,000 series with one sample at 0
	for i := range 2_000 {
		if err := wide.Append(model.MustFromStrings("__name__", "x", "i", fmt.Sprint(i)), 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	distinct := promql.NewMemStorage() // 20 series, a different value every second
	for i := range 20 {
		l := model.MustFromStrings("__name__", "y", "i", fmt.Sprint(i))
		for s := range 600 {
			if err := distinct.Append(l, int64(s)*1000, float64(i*1_000_000+s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	long := promql.NewMemStorage() // one series, 3M samples a second apart
	for i := range 3_000_000 {
		if err := long.Append(model.MustFromStrings("__name__", "z"), int64(i)*1000, 1); err != nil {
			t.Fatal(err)
		}
	}
	fat := promql.NewMemStorage() // 500 series with a 1 kB label
	for i := range 500 {
		l := model.MustFromStrings("__name__", "w", "v", fmt.Sprintf("%04d%s", i, strings.Repeat("v", 1_000)))
		if err := fat.Append(l, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	const bound = 40 << 20
	for _, c := range []struct {
		name  string
		opts  promql.Opts
		st    promql.Storage
		q     string
		step  time.Duration // 0: instant at 0
		end   time.Duration
		want  error
		costs string // what the query would allocate unchecked
	}{
		{"subquery of a scalar, a day at 1ms", promql.Opts{}, wide, `count_over_time(vector(1)[1d:1ms])`, 0, 0, promql.ErrExecution, "86.4M steps: 690 MB of scalar, 1.4 GB of points"},
		{"subquery of time(), a year at 1ms", promql.Opts{}, wide, `count_over_time(vector(time())[1y:1ms])`, 0, 0, promql.ErrExecution, "31.5G steps: a crash"},
		{"subquery over an empty selector", promql.Opts{}, wide, `count_over_time((nothing + nothing)[1y:1ms])`, 0, 0, promql.ErrExecution, "31.5G steps of transposes"},
		{"subquery of a selector at 1ms", promql.Opts{MaxSamples: 100_000}, wide, `count_over_time(x{i="1"}[5m:1ms])`, 0, 5 * time.Minute, promql.ErrTooManySamples, "300,000 points of one series"},
		{"range vector read through an iterator", promql.Opts{MaxSamples: 100_000}, &countingStorage{st: long, iterOnly: true}, `z[1000h]`, 0, 1000 * time.Hour, promql.ErrTooManySamples, "3M samples: 48 MB and its regrowths"},
		{"groups of big labels, streamed", promql.Opts{MaxMemory: 256 << 10}, fat, `count by (v) (w)`, 0, 0, promql.ErrMemoryLimit, "500 groups' labels, 516 kB"},
		{"groups of big labels", promql.Opts{MaxMemory: 256 << 10}, fat, `count by (v) (w * 2)`, 0, 0, promql.ErrMemoryLimit, "500 groups' labels, 516 kB"},
		{"groups of big labels within the limit", promql.Opts{MaxMemory: 1 << 20}, fat, `count by (v) (w * 2)`, 0, 0, nil, "fits"},
		{"wide range query", promql.Opts{MaxSamples: 1_000_000}, wide, `x`, 10 * time.Millisecond, 100 * time.Second, promql.ErrTooManySamples, "2,000 series × 10,001 steps: 320 MB"},
		{"wide range query of a function", promql.Opts{MaxSamples: 1_000_000}, wide, `last_over_time(x[5m])`, 10 * time.Millisecond, 100 * time.Second, promql.ErrTooManySamples, "320 MB"},
		{"count_values over 600 steps", promql.Opts{MaxMemory: 512 << 10}, distinct, `count_values("v", y)`, time.Second, 599 * time.Second, promql.ErrMemoryLimit, "12,000 series' labels, 480 kB"},
		{"count by distinct values", promql.Opts{MaxMemory: 4 << 20}, distinct, `count by (v) (label_replace(y, "v", "$1", "i", "(.*)") + 0*y)`, time.Second, 599 * time.Second, nil, "fits"},
		{"label_replace making big labels", promql.Opts{MaxMemory: 4 << 20}, wide, `label_replace(x, "big", "` + strings.Repeat("$1", 2_000) + `", "i", "(.*)")`, 0, 0, promql.ErrMemoryLimit, "2,000 labels of up to 8 kB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			eng := promql.NewEngine(c.opts)
			var err error
			n := allocated(func() {
				if c.step == 0 {
					_, err = eng.Query(context.Background(), c.st, c.q, time.UnixMilli(c.end.Milliseconds()))
				} else {
					_, err = eng.QueryRange(context.Background(), c.st, c.q, time.UnixMilli(0), time.UnixMilli(c.end.Milliseconds()), c.step)
				}
			})
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if n > bound {
				t.Errorf("allocated %d MB before answering, want under %d MB (unchecked: %s)", n>>20, bound>>20, c.costs)
			}
		})
	}
}

// TestMemoryLimitMessage: the error names the limit and wraps both
// sentinels callers branch on.
func TestMemoryLimitMessage(t *testing.T) {
	st := promql.NewMemStorage()
	if err := st.Append(model.MustFromStrings("__name__", "x"), 0, 1); err != nil {
		t.Fatal(err)
	}
	_, err := promql.NewEngine(promql.Opts{MaxMemory: 1000}).Query(context.Background(), st,
		`label_replace(x, "big", "`+strings.Repeat("a", 2000)+`", "", "")`, time.UnixMilli(0))
	if !errors.Is(err, promql.ErrMemoryLimit) || !errors.Is(err, promql.ErrExecution) || !strings.Contains(err.Error(), "memory limit of 1000 bytes") {
		t.Fatalf("err = %v", err)
	}
	// Within the limit, the same query answers.
	if _, err := promql.NewEngine(promql.Opts{MaxMemory: 100_000}).Query(context.Background(), st,
		`label_replace(x, "big", "`+strings.Repeat("a", 2000)+`", "", "")`, time.UnixMilli(0)); err != nil {
		t.Fatal(err)
	}
}

// cancelingStorage cancels the query's context once its series are all
// read: whatever the query does afterwards, on the way back up its
// expression, must stop at a check.
type cancelingStorage struct {
	st     promql.Storage
	cancel context.CancelFunc
}

func (c cancelingStorage) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	return &cancelingSet{SeriesSet: c.st.Select(ctx, mint, maxt, ms...), cancel: c.cancel}
}

type cancelingSet struct {
	promql.SeriesSet
	cancel context.CancelFunc
}

// Err is nil: the set was read whole before the cancel.
func (s *cancelingSet) Err() error { return nil }

func (s *cancelingSet) Next() bool {
	if s.SeriesSet.Next() {
		return true
	}
	s.cancel()
	return false
}

// TestCancelOnTheWayUp: a query nested deep does its work after the
// selector has been read, level by level; a cancel (the client gone, the
// timeout) that comes then stops it.
func TestCancelOnTheWayUp(t *testing.T) {
	st := promql.NewMemStorage()
	if err := st.Append(model.MustFromStrings("__name__", "x"), 0, 1); err != nil {
		t.Fatal(err)
	}
	for _, depth := range []int{1, 5_000} {
		q := strings.Repeat("abs(", depth) + "x" + strings.Repeat(")", depth)
		ctx, cancel := context.WithCancel(context.Background())
		_, err := promql.NewEngine(promql.Opts{}).Query(ctx, cancelingStorage{st, cancel}, q, time.UnixMilli(0))
		cancel()
		if !errors.Is(err, promql.ErrCanceled) {
			t.Errorf("depth %d: err = %v, want ErrCanceled", depth, err)
		}
	}
}

// TestNestingLimit: a query deeper than parser.MaxDepth is a parse error
// found before the parser recurses; one at the limit parses.
func TestNestingLimit(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "x" + strings.Repeat(close, n)
	}
	for _, c := range []struct {
		q    string
		ok   bool
		slow bool // parsed whole: seconds under the race detector
	}{
		{nest("(", ")", parser.MaxDepth), true, true},
		{nest("(", ")", parser.MaxDepth+1), false, false},
		{nest("abs(", ")", 200_000), false, false},
		{nest("-", "", parser.MaxDepth+1), false, false},
		{strings.Repeat("x + ", parser.MaxDepth+1) + "x", false, true},
		{`"` + strings.Repeat("(", parser.MaxDepth+1) + `"`, true, false}, // in a string
	} {
		if c.slow && raceEnabled {
			continue
		}
		_, err := parser.ParseExpr(c.q)
		if c.ok && err != nil || !c.ok && !errors.Is(err, parser.ErrParse) {
			t.Errorf("%.30s… (%d bytes): err = %v", c.q, len(c.q), err)
		}
	}
}

// fuzzLimits are FuzzQuery's limits: small, so that every input meets
// them quickly, and fuzzAllocBound what a query may allocate in all, well
// above them (garbage, the parse, the demo data read) and far below what
// an unchecked query allocates.
const (
	fuzzMaxSamples = 200_000
	fuzzMaxMemory  = 16 << 20
	fuzzAllocBound = 256 << 20
)

// FuzzQuery runs random queries, as instant and as range queries, over the
// demo data set (an hour of a dozen series) with the limits set: no input
// may panic, and none may allocate more than fuzzAllocBound, whatever its
// subqueries, steps, nesting or labels. An error is fine; a crash or an
// allocation past the bound is not.
func FuzzQuery(f *testing.F) {
	for _, q := range queries {
		f.Add(q, uint16(15), uint16(3600))
	}
	for _, q := range []string{
		`count_over_time(vector(1)[1y:1ms])`,
		`count_over_time(vector(time())[1d:1ms])`,
		`count_over_time(up[1h:1ms])`,
		`count_values("v", http_requests_total)`,
		`label_replace(up, "big", "$1$1$1$1$1$1$1$1", "instance", "(.*)")`,
		`sum by (v) (count_values("v", rate(http_requests_total[1m])))`,
		`abs(abs(abs(abs(abs(-up)))))`,
		`absent_over_time(nothing[1d:1ms])`,
		`scalar(up{instance="a"})[1h:1ms]`,
		`max_over_time((up + on() group_left nothing)[30m:1ms])`,
		`quantile_over_time(0.5, rate(http_requests_total[5m])[30m:10ms])`,
	} {
		f.Add(q, uint16(1), uint16(3600))
	}
	st := demoStorage(f)
	eng := promql.NewEngine(promql.Opts{MaxSamples: fuzzMaxSamples, MaxMemory: fuzzMaxMemory, Timeout: 5 * time.Second})
	f.Fuzz(func(t *testing.T, q string, step, span uint16) {
		expr, err := eng.Parse(q)
		if err != nil {
			return
		}
		end := demoStart.Add(time.Duration(span%3600) * time.Second)
		n := allocated(func() {
			_, _ = eng.Eval(context.Background(), st, expr, end)
			if step > 0 {
				_, _ = eng.EvalRange(context.Background(), st, expr, demoStart, end, time.Duration(step)*time.Second)
			}
		})
		if n > fuzzAllocBound {
			t.Errorf("%q allocated %d MB, want under %d MB", q, n>>20, fuzzAllocBound>>20)
		}
	})
}
