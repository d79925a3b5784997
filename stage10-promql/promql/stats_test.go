package promql

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// TestStatsPeakSamples: the peak a query reports is exactly the limit it
// needs: with MaxSamples at the peak it runs, one below it fails with
// ErrTooManySamples.
func TestStatsPeakSamples(t *testing.T) {
	st := NewMemStorage()
	for i := range 5 {
		l := model.MustFromStrings("__name__", "x", "i", fmt.Sprint(i))
		for j := range 61 {
			if err := st.Append(l, int64(j)*60_000, float64(j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{"x", "sum(rate(x[5m]))", "max_over_time(x[10m:1m])"} {
		var s Stats
		ctx := WithStats(context.Background(), &s)
		expr := mustParseExpr(t, q)
		if _, err := NewEngine(Opts{}).EvalRange(ctx, st, expr, time.Unix(600, 0), time.Unix(3600, 0), time.Minute); err != nil {
			t.Fatal(err)
		}
		if s.PeakSamples <= 0 {
			t.Fatalf("%s: peak %d", q, s.PeakSamples)
		}
		if _, err := NewEngine(Opts{MaxSamples: s.PeakSamples}).EvalRange(context.Background(), st, expr, time.Unix(600, 0), time.Unix(3600, 0), time.Minute); err != nil {
			t.Errorf("%s: MaxSamples = peak %d: %v", q, s.PeakSamples, err)
		}
		_, err := NewEngine(Opts{MaxSamples: s.PeakSamples - 1}).EvalRange(context.Background(), st, expr, time.Unix(600, 0), time.Unix(3600, 0), time.Minute)
		if !errors.Is(err, ErrTooManySamples) {
			t.Errorf("%s: MaxSamples = peak-1 = %d: err %v, want ErrTooManySamples", q, s.PeakSamples-1, err)
		}
	}
}

func mustParseExpr(t *testing.T, q string) parser.Expr {
	t.Helper()
	e, err := parser.ParseExpr(q)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
