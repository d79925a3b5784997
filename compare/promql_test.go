package compare

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	prom "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage10-promql/promql"
)

// Both engines read the same generated samples: ours from
// promql.MemStorage, Prometheus's from promStore below, an equally plain
// in-memory storage.Queryable, so the comparison is engine against engine.

type promSeries struct {
	lset    labels.Labels
	samples []fsample
}

// promStore is a storage.Queryable over sorted in-memory series.
type promStore struct {
	series []*promSeries
	byKey  map[string]*promSeries
}

func newPromStore() *promStore { return &promStore{byKey: map[string]*promSeries{}} }

func (s *promStore) Append(l model.Labels, t int64, v float64) error {
	k := l.String()
	ps, ok := s.byKey[k]
	if !ok {
		b := labels.NewScratchBuilder(l.Len())
		for x := range l.All() {
			b.Add(x.Name, x.Value)
		}
		b.Sort()
		ps = &promSeries{lset: b.Labels()}
		s.byKey[k] = ps
		s.series = append(s.series, ps)
	}
	ps.samples = append(ps.samples, fsample{t, v})
	return nil
}

func (s *promStore) sort() {
	slices.SortFunc(s.series, func(a, b *promSeries) int { return labels.Compare(a.lset, b.lset) })
}

func (s *promStore) Querier(mint, maxt int64) (storage.Querier, error) {
	return &promQuerier{s: s, mint: mint, maxt: maxt}, nil
}

type promQuerier struct {
	s          *promStore
	mint, maxt int64
}

func (q *promQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []*promSeries
	for _, ps := range q.s.series {
		ok := true
		for _, m := range ms {
			if !m.Matches(ps.lset.Get(m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, ps)
		}
	}
	return &promSet{list: out, i: -1}
}

func (q *promQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *promQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *promQuerier) Close() error { return nil }

type promSet struct {
	list []*promSeries
	i    int
}

func (s *promSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *promSet) At() storage.Series                { return s.list[s.i] }
func (s *promSet) Err() error                        { return nil }
func (s *promSet) Warnings() annotations.Annotations { return nil }

func (ps *promSeries) Labels() labels.Labels { return ps.lset }

// Iterator uses Prometheus's own list iterator (Next/Seek/At over a
// storage.Samples), so both engines iterate plain slices.
func (ps *promSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(ps)
}

func (ps *promSeries) Get(i int) chunks.Sample { return &ps.samples[i] }
func (ps *promSeries) Len() int                { return len(ps.samples) }

// fsample is a float sample; used through a pointer, so that handing it
// out as a chunks.Sample does not allocate.
type fsample struct {
	t int64
	f float64
}

func (s *fsample) T() int64                      { return s.t }
func (s *fsample) ST() int64                     { return 0 }
func (s *fsample) F() float64                    { return s.f }
func (s *fsample) H() *histogram.Histogram       { return nil }
func (s *fsample) FH() *histogram.FloatHistogram { return nil }
func (s *fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s *fsample) Copy() chunks.Sample           { c := *s; return &c }

// both fans samples out to the two stores.
type both struct {
	ours  *promql.MemStorage
	their *promStore
}

func (b both) Append(l model.Labels, t int64, v float64) error {
	if err := b.ours.Append(l, t, v); err != nil {
		return err
	}
	return b.their.Append(l, t, v)
}

func newPromEngine() *prom.Engine {
	return prom.NewEngine(prom.EngineOpts{
		MaxSamples:               50_000_000,
		Timeout:                  2 * time.Minute,
		LookbackDelta:            5 * time.Minute,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		// double_exponential_smoothing, limitk, limit_ratio, sort_by_label
		// and others are experimental in Prometheus 3, and so are the fill
		// modifiers; both engines get them (ourFeatures).
		Parser: parser.NewParser(parser.Options{EnableExperimentalFunctions: true, EnableBinopFillModifiers: true}),
	})
}

// ourFeatures are newPromEngine's on our side.
var ourFeatures = promql.Features{ExperimentalFunctions: true, FillModifiers: true}

// metricKey prints Prometheus's labels the way ours print.
func promKey(l labels.Labels) string {
	var ps []model.Label
	l.Range(func(x labels.Label) { ps = append(ps, model.Label{Name: x.Name, Value: x.Value}) })
	b, _ := model.New(ps...)
	return promql.MetricString(b)
}

var agreeQueries = []string{
	`http_requests_total`,
	`up`,
	`up offset 2m`,
	`http_requests_total @ 1735691400`,
	`http_requests_total offset -3m`,
	`rate(http_requests_total[5m])`,
	`rate(http_requests_total[1m])`,
	`increase(http_requests_total[90s] offset 1m)`,
	`irate(http_requests_total[1m])`,
	`idelta(room_temperature_celsius[2m])`,
	`delta(room_temperature_celsius[10m])`,
	`deriv(node_memory_used_bytes[10m])`,
	`predict_linear(node_memory_used_bytes[10m], 600)`,
	`avg_over_time(room_temperature_celsius[7m])`,
	`sum_over_time(room_temperature_celsius[7m])`,
	`min_over_time(room_temperature_celsius[7m])`,
	`max_over_time(room_temperature_celsius[7m])`,
	`count_over_time(up[7m])`,
	`last_over_time(up[7m])`,
	`present_over_time(up[7m])`,
	`quantile_over_time(0.9, room_temperature_celsius[7m])`,
	`stddev_over_time(node_memory_used_bytes[5m])`,
	`stdvar_over_time(room_temperature_celsius[5m])`,
	`changes(up[10m])`,
	`resets(http_requests_total[30m])`,
	`absent_over_time(up{instance="c"}[2m])`,
	`absent(up{instance="c"})`,
	`sum by (method) (rate(http_requests_total[5m]))`,
	`sum without (status) (http_requests_total)`,
	`avg by (method) (http_requests_total)`,
	`min(room_temperature_celsius)`,
	`max by (room) (room_temperature_celsius)`,
	`count(up)`,
	`group by (method) (http_requests_total)`,
	`stddev(room_temperature_celsius)`,
	`stdvar(node_memory_used_bytes)`,
	`topk(2, http_requests_total)`,
	`bottomk(2, rate(http_requests_total[5m]))`,
	`quantile(0.5, http_requests_total)`,
	`count_values("v", up)`,
	`http_requests_total / ignoring(status) group_left http_requests_started`,
	`http_requests_started / ignoring(status) group_right http_requests_total`,
	`sum by (method) (http_requests_total) / on(method) http_requests_started`,
	`up and on(instance) node_memory_used_bytes`,
	`up or node_memory_used_bytes`,
	`up unless on(instance) node_memory_used_bytes`,
	`http_requests_total > 100`,
	`http_requests_total > bool 100`,
	`100 < http_requests_total`,
	`-room_temperature_celsius + 2 * 3 ^ 2`,
	`room_temperature_celsius % 3`,
	`room_temperature_celsius atan2 2`,
	`histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
	`histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[5m]))`,
	`max_over_time(rate(http_requests_total[1m])[10m:30s])`,
	`rate(http_requests_total[5m:1m])`,
	`avg_over_time(up[7m:] offset 1m)`,
	`label_replace(up, "host", "h-$1", "instance", "(.*)")`,
	`label_join(http_requests_total, "mk", "/", "method", "status")`,
	`clamp(room_temperature_celsius, 21, 22)`,
	`clamp_min(room_temperature_celsius, 22)`,
	`round(room_temperature_celsius, 0.5)`,
	`abs(-room_temperature_celsius)`,
	`ceil(room_temperature_celsius)`,
	`sqrt(node_memory_used_bytes)`,
	`ln(node_memory_used_bytes)`,
	`exp(room_temperature_celsius / 10)`,
	`sgn(deriv(node_memory_used_bytes[5m]))`,
	`timestamp(up)`,
	`vector(time())`,
	`scalar(up{instance="a"}) * up`,
	`hour(up)`,
	`day_of_week()`,
	`days_in_month(vector(time()))`,
	`sort_desc(http_requests_total)`,
	`time() - timestamp(up)`,
	`rate(http_requests_total[5m] @ start())`,
	`sum_over_time(up[5m] @ end())`,
	`max_over_time(up[10m:1m] @ 1735690000)`,
	`max_over_time(room_temperature_celsius[10m:1m] offset -2m)`,
	`absent(nonexistent{job="x"})`,
	`vector(1) unless on() nonexistent`,
	`count_values by (method) ("count", http_requests_total > 10)`,
	`quantile by (method) (0.3, http_requests_total)`,
	`topk by (method) (1, http_requests_total)`,
	`-http_requests_total`,
	`http_requests_total == bool on(method, status) http_requests_total`,
	`http_requests_total unless http_requests_total{status="200"}`,
	`changes(room_temperature_celsius[3m])`,
	`label_replace(http_requests_total, "status", "", "status", "5..")`,
	`round(rate(http_requests_total[5m]) * 60)`,
	`sum(rate(http_requests_total[5m])) by (status) / ignoring(status) group_left sum(rate(http_requests_total[5m]))`,
	`double_exponential_smoothing(room_temperature_celsius[10m], 0.3, 0.6)`,
	`limitk by (method) (1, http_requests_total)`,
	`limit_ratio(0.5, http_requests_total)`,
	`limit_ratio(-0.5, http_requests_total)`,
	`sort_by_label(http_requests_total, "status")`,
	// Prometheus 3's language: keywords in any case, number forms,
	// duration expressions, extended selectors, fill modifiers, the newer
	// functions.
	`SUM BY (method) (http_requests_total) AND ON (method) http_requests_started`,
	`AVG(room_temperature_celsius) BY (room) * 5./6. + 0x10 - 1_000 / 2.`,
	`rate(http_requests_total[2m+3m] offset (1m * 2))`,
	`max_over_time(up[min_of(10m, 1h):max_of(30s, 1m)])`,
	`increase(http_requests_total[5m] anchored)`,
	`rate(http_requests_total[5m] smoothed)`,
	`room_temperature_celsius smoothed`,
	`changes(up[10m] anchored)`,
	`http_requests_total / on (method, status) fill_right(1) http_requests_started`,
	`up + on (instance) fill(0) node_memory_used_bytes`,
	`first_over_time(room_temperature_celsius[7m])`,
	`ts_of_max_over_time(room_temperature_celsius[7m])`,
	`ts_of_min_over_time(room_temperature_celsius[7m])`,
	`ts_of_first_over_time(up[7m])`,
	`ts_of_last_over_time(up[7m])`,
	`mad_over_time(node_memory_used_bytes[10m])`,
	`integral(room_temperature_celsius[10m])`,
	`integral(room_temperature_celsius[10m], 0)`,
	`histogram_fraction(0, 0.25, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
	`histogram_quantiles(sum by (le) (rate(http_request_duration_seconds_bucket[5m])), "q", 0.5, 0.9, 0.99)`,
	`vector(scalar(up{instance="a"}) * step() + start() - end() + range())`,
	// Annotations: the same warnings and infos, at the same positions.
	`rate(room_temperature_celsius[5m])`,
	`increase({__name__=~"up|room_temperature_celsius"}[5m])`,
	`quantile(1.5, http_requests_total)`,
	`quantile_over_time(-0.5, room_temperature_celsius[5m])`,
	`histogram_quantile(2, rate(http_request_duration_seconds_bucket[5m]))`,
	`histogram_quantile(0.5, rate(http_requests_total[5m]))`,
	`limit_ratio(1.5, http_requests_total)`,
	`integral(room_temperature_celsius[5m], 7)`,
	`sort_desc(rate(http_requests_total[5m]))`,
}

var demoStores struct {
	once sync.Once
	b    both
}

func demoBoth(t testing.TB) both {
	demoStores.once.Do(func() {
		demoStores.b = both{promql.NewMemStorage(), newPromStore()}
		start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := gen.Demo(demoStores.b, start, time.Hour, 15*time.Second, 1); err != nil {
			panic(err)
		}
		demoStores.b.their.sort()
	})
	return demoStores.b
}

// TestEnginesAgree: the course's engine and Prometheus's, the same data,
// the same range and instant queries: the same series, the same steps, the
// same values, bit for bit.
func TestEnginesAgree(t *testing.T) {
	b := demoBoth(t)
	ours := promql.NewEngine(promql.Opts{Features: ourFeatures})
	theirs := newPromEngine()
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 0, 3, 0, 0, time.UTC)
	end := start.Add(57 * time.Minute)
	step := 70 * time.Second
	for _, q := range agreeQueries {
		want := map[string]float64{}
		pq, err := theirs.NewRangeQuery(ctx, b.their, nil, q, start, end, step)
		if err != nil {
			t.Fatalf("prometheus: %s: %v", q, err)
		}
		res := pq.Exec(ctx)
		if res.Err != nil {
			t.Fatalf("prometheus: %s: %v", q, res.Err)
		}
		pm, _ := res.Matrix()
		for _, s := range pm {
			for _, p := range s.Floats {
				want[promKey(s.Metric)+"@"+time.UnixMilli(p.T).Format("15:04:05")] = p.F
			}
		}
		pq.Close()
		expr, err := ours.Parse(q)
		if err != nil {
			t.Fatalf("ours: %s: %v", q, err)
		}
		r, err := ours.Exec(ctx, b.ours, promql.Query{Expr: expr, Start: start, End: end, Step: step})
		if err != nil {
			t.Fatalf("ours: %s: %v", q, err)
		}
		m := r.Value.(promql.Matrix)
		sameAnnotations(t, "range "+q, q, res.Warnings, r.Annotations)
		got := map[string]float64{}
		for _, s := range m {
			for _, p := range s.Floats {
				got[promql.MetricString(s.Metric)+"@"+time.UnixMilli(p.T).Format("15:04:05")] = p.V
			}
		}
		if len(want) == 0 && len(res.Warnings) == 0 {
			t.Errorf("%s: Prometheus returns nothing; the query compares nothing", q)
		}
		bad := 0
		for k, w := range want {
			g, ok := got[k]
			if !ok || !same(g, w) {
				if bad < 3 {
					t.Errorf("%s: %s prometheus %v, ours %v (present %v)", q, k, w, g, ok)
				}
				bad++
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				if bad < 3 {
					t.Errorf("%s: %s only in our result", q, k)
				}
				bad++
			}
		}
		if bad > 3 {
			t.Errorf("%s: %d differences in all", q, bad)
		}
		// And as an instant query: the same samples, and for sort_desc and
		// topk the same order.
		iq, err := theirs.NewInstantQuery(ctx, b.their, nil, q, end)
		if err != nil {
			t.Fatal(err)
		}
		ires := iq.Exec(ctx)
		pv, err := ires.Vector()
		if err != nil {
			t.Fatalf("prometheus: %s: %v", q, err)
		}
		ir, err := ours.Exec(ctx, b.ours, promql.Query{Expr: expr, Start: end, End: end})
		if err != nil {
			t.Fatalf("ours: %s: %v", q, err)
		}
		ov := ir.Value
		sameAnnotations(t, "instant "+q, q, ires.Warnings, ir.Annotations)
		var pk, ok []string
		for _, s := range pv {
			pk = append(pk, promKey(s.Metric)+"="+promql.FormatValue(s.F))
		}
		for _, s := range ov.(promql.Vector) {
			ok = append(ok, promql.MetricString(s.Metric)+"="+promql.FormatValue(s.F))
		}
		if !strings.HasPrefix(q, "sort") && !strings.HasPrefix(q, "topk") && !strings.HasPrefix(q, "bottomk") {
			slices.Sort(pk)
			slices.Sort(ok)
		}
		if !slices.Equal(pk, ok) {
			t.Errorf("instant %s:\n prometheus %v\n       ours %v", q, pk, ok)
		}
		iq.Close()
	}
}

// sameAnnotations: our warnings and infos are Prometheus's, texts and
// positions.
func sameAnnotations(t *testing.T, what, q string, theirs annotations.Annotations, ours promql.Annotations) {
	t.Helper()
	pw, pi := theirs.AsStrings(q, 0, 0)
	ow, oi := ours.Strings(q)
	for _, l := range [][]string{pw, pi, ow, oi} {
		slices.Sort(l)
	}
	if !slices.Equal(pw, ow) || !slices.Equal(pi, oi) {
		t.Errorf("%s: annotations differ\n prometheus warnings %q infos %q\n       ours warnings %q infos %q", what, pw, pi, ow, oi)
	}
}

// same is bit-for-bit equality, NaN equal to NaN.
func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b
}

// TestEngineErrorsAgree: the error texts a client sees are Prometheus's.
func TestEngineErrorsAgree(t *testing.T) {
	b := demoBoth(t)
	ours := promql.NewEngine(promql.Opts{})
	theirs := newPromEngine()
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 30, 0, 0, time.UTC)
	for _, q := range []string{
		`http_requests_total / ignoring(status) http_requests_started`,
		`http_requests_total + on() http_requests_started`,
		`abs({__name__=~"node_memory_used_bytes|up"})`,
		`label_replace(up, "instance", "x", "instance", ".*")`,
		`rate(up[1m - 1m])`,
		`rate(up[step()])`,
		`1 </ 2`,
		`deriv(up[5m] anchored)`,
		`max_over_time(up[5m] smoothed)`,
	} {
		// Prometheus works out duration expressions when it prepares a
		// query: their errors come before Exec.
		pq, perr := theirs.NewInstantQuery(ctx, b.their, nil, q, at)
		if perr == nil {
			perr = pq.Exec(ctx).Err
			pq.Close()
		}
		_, oerr := ours.Query(ctx, b.ours, q, at)
		if perr == nil || oerr == nil || perr.Error() != oerr.Error() {
			t.Errorf("%s:\n prometheus: %v\n       ours: %v", q, perr, oerr)
		}
	}
	for _, q := range parseErrorQueries {
		_, perr := parser.NewParser(parser.Options{}).ParseExpr(q)
		_, oerr := ours.Query(ctx, b.ours, q, at)
		if (perr == nil) != (oerr == nil) || (perr != nil && perr.Error() != oerr.Error()) {
			t.Errorf("%s:\n prometheus: %v\n       ours: %v", q, perr, oerr)
		}
	}
}

// parseErrorQueries: one of each mistake the type checker catches.
var parseErrorQueries = []string{
	"rate(http_requests_total)",
	"sum by (x) (rate(foo))",
	"sum(x[5m])",
	"abs(x[5m])",
	"rate(x[5m], 1)",
	"round()",
	"round(x, 1, 2)",
	"label_join(x)",
	"nosuch(x)",
	"topk(x)",
	`topk("a", x)`,
	"count_values(1, x)",
	"1 > 2",
	"a + bool b",
	"1 and x",
	"x[5m] + 1",
	"1 + on(a) x",
	"a and on(x) group_left b",
	"a * on(x) group_left(x) b",
	"-x[5m]",
	"(foo)[5m]",
	"foo offset 5m [5m]",
	"foo offset 1m offset 2m",
	"foo @ 1 @ 2",
	"(foo) offset 5m",
	"x[5m][10m:]",
	`{a=""}`,
	`{a=~".*"}`,
	`foo{__name__="bar"}`,
	"foo[0s]",
	"",
	// Prometheus 3: features off by default, the newer syntax.
	"limitk(1, x)",
	`sort_by_label(x, "a")`,
	"mad_over_time(x[5m])",
	"holt_winters(x[5m], 0.5, 0.5)",
	"x + fill(0) y",
	"x[5m] anchored smoothed",
	"x[1h:5m] anchored",
	"x[5m / 0]",
	"x[5m % 0]",
	"x[-5m]",
	"http.requests",
	`{a.b="c"}`,
	"sum by (a.b) (x)",
	"温度",
	"sum()",
	"SUM BY (a) ()",
}
