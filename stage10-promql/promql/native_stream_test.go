package promql_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql"
)

// TestNativeRangeStreamsSeries: a range function over native histogram
// series holds one series at a time, as Prometheus does, so the sample
// limit applies to one series' histograms plus the results, not to every
// series whole. 40 series of 200 histograms 15 s apart, each counting
// 1 + (20 buckets + 1 span) / 2 = 11 points. Over 45 minutes at a 20-minute step a series' windows read 181
// histograms (1,991 points), 79,640 for all 40, and the 3-step rate gives
// 120 histograms (1,320 points). A limit of 5,000 fits one series and the
// results, and the answer is the one without a limit; a limit of 1,500,
// less than one series, is refused.
func TestNativeRangeStreamsSeries(t *testing.T) {
	st := promql.NewMemStorage()
	for s := range 40 {
		l := model.MustFromStrings("__name__", "h", "i", fmt.Sprint(s))
		for k := range 200 {
			counts := make([]float64, 20)
			total := 0.0
			for j := range counts {
				counts[j] = float64((k + 1) * (j + s + 1))
				total += counts[j]
			}
			h := &histogram.FloatHistogram{Schema: 1, Count: total, Sum: total / 2,
				PositiveSpans: []histogram.Span{{Offset: 0, Length: 20}}, PositiveBuckets: counts}
			if err := st.AppendHistogram(l, int64(k)*15_000, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	q := `histogram_count(sum(rate(h[5m])))`
	from, to, step := time.UnixMilli(300_000), time.UnixMilli(2_700_000), 20*time.Minute
	want, err := promql.NewEngine(promql.Opts{}).QueryRange(ctx, st, q, from, to, step)
	if err != nil || len(want) != 1 || len(want[0].Floats) != 3 {
		t.Fatalf("without a limit: %v %v", want, err)
	}
	got, err := promql.NewEngine(promql.Opts{MaxSamples: 5000}).QueryRange(ctx, st, q, from, to, step)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("limit 5,000: %v %v, want %v", got, err, want)
	}
	if _, err := promql.NewEngine(promql.Opts{MaxSamples: 1500}).QueryRange(ctx, st, q, from, to, step); !errors.Is(err, promql.ErrTooManySamples) {
		t.Fatalf("limit 2,000: %v, want ErrTooManySamples", err)
	}
}
