package ruletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
	"github.com/tsdb-course/stage14-alerts/promtime"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

// TestOptions are `test rules`'s flags.
type TestOptions struct {
	// Run selects test groups by name: regular expressions, any of which
	// may match (--run, repeatable).
	Run []string
	// Prog names the program in the error about a file that does not
	// exist. Defaults to "promtool".
	Prog string
}

// unitTestFile is promtool's unit-test file.
type unitTestFile struct {
	RuleFiles          []string          `yaml:"rule_files"`
	EvaluationInterval promtime.Duration `yaml:"evaluation_interval,omitempty"`
	GroupEvalOrder     []string          `yaml:"group_eval_order"`
	Tests              []testGroup       `yaml:"tests"`
	FuzzyCompare       bool              `yaml:"fuzzy_compare,omitempty"`
}

// testGroup is input series and what to expect of them.
type testGroup struct {
	Interval        promtime.Duration `yaml:"interval"`
	InputSeries     []series          `yaml:"input_series"`
	AlertRuleTests  []alertTestCase   `yaml:"alert_rule_test,omitempty"`
	PromqlExprTests []promqlTestCase  `yaml:"promql_expr_test,omitempty"`
	ExternalLabels  map[string]string `yaml:"external_labels,omitempty"`
	ExternalURL     string            `yaml:"external_url,omitempty"`
	TestGroupName   string            `yaml:"name,omitempty"`
	StartTimestamp  startTimestamp    `yaml:"start_timestamp,omitempty"`
}

type series struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTestCase struct {
	EvalTime  promtime.Duration `yaml:"eval_time"`
	Alertname string            `yaml:"alertname"`
	ExpAlerts []expAlert        `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type promqlTestCase struct {
	Expr       string            `yaml:"expr"`
	EvalTime   promtime.Duration `yaml:"eval_time"`
	ExpSamples []expSample       `yaml:"exp_samples"`
}

type expSample struct {
	Labels    string  `yaml:"labels"`
	Value     float64 `yaml:"value"`
	Histogram string  `yaml:"histogram"`
}

// startTimestamp reads RFC 3339 or Unix seconds.
type startTimestamp struct{ time.Time }

func (t *startTimestamp) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	v, err := promtime.ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// TestRules runs unit-test files as `promtool test rules FILE...` does and
// returns the exit status: what was run goes to stdout, failures to stderr.
func TestRules(stdout, stderr io.Writer, opts TestOptions, files ...string) int {
	if missingFile(stderr, opts.Prog, files) {
		return ExitFailure
	}
	var run *regexp.Regexp
	if len(opts.Run) > 0 {
		re, err := regexp.Compile(strings.Join(opts.Run, "|"))
		if err != nil {
			fmt.Fprintf(stderr, "error: --run: %v\n", err)
			return ExitFailure
		}
		run = re
	}
	failed := false
	for _, f := range files {
		fmt.Fprintf(stdout, "Processing test file: %s\n", f)
		if errs := runFile(stderr, f, run, opts); errs != nil {
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
				fmt.Fprintln(stdout)
			}
			failed = true
		} else {
			fmt.Fprintln(stdout, "  SUCCESS")
		}
		fmt.Fprintln(stdout)
	}
	if failed {
		return ExitFailure
	}
	return ExitSuccess
}

func runFile(stderr io.Writer, file string, run *regexp.Regexp, opts TestOptions) []error {
	b, err := os.ReadFile(file)
	if err != nil {
		return []error{err}
	}
	var utf unitTestFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&utf); err != nil && !errors.Is(err, io.EOF) {
		return []error{err}
	}
	// Rule files are relative to the test file and may be globs.
	var ruleFiles []string
	for _, rf := range utf.RuleFiles {
		if rf != "" && !filepath.IsAbs(rf) {
			rf = filepath.Join(filepath.Dir(file), rf)
		}
		m, err := filepath.Glob(rf)
		if err != nil {
			return []error{err}
		}
		if len(m) == 0 {
			fmt.Fprintln(stderr, "  WARNING: no file match pattern", rf)
		}
		ruleFiles = append(ruleFiles, m...)
	}
	if utf.EvaluationInterval == 0 {
		utf.EvaluationInterval = promtime.Duration(time.Minute)
	}
	order := map[string]int{}
	for i, g := range utf.GroupEvalOrder {
		if _, dup := order[g]; dup {
			return []error{fmt.Errorf("group name repeated in evaluation order: %s", g)}
		}
		order[g] = i
	}
	var errs []error
	for _, tg := range utf.Tests {
		if run != nil && !run.MatchString(tg.TestGroupName) {
			continue
		}
		if tg.Interval == 0 {
			tg.Interval = utf.EvaluationInterval
		}
		errs = append(errs, tg.test(time.Duration(utf.EvaluationInterval), order, utf.FuzzyCompare, ruleFiles)...)
	}
	return errs
}

// test runs one test group: load the input series step by step, evaluate
// every group at each evaluation interval, check the alerts at the
// alert_rule_test times, then the promql_expr_test queries.
func (tg *testGroup) test(evalInterval time.Duration, order map[string]int, fuzzy bool, ruleFiles []string) []error {
	mint := time.Unix(0, 0).UTC()
	if !tg.StartTimestamp.IsZero() {
		mint = tg.StartTimestamp.Time
	}
	maxt := mint.Add(tg.maxEvalTime())

	input, err := tg.parseInput(mint)
	if err != nil {
		return []error{err}
	}
	mem := store.NewMemory()
	eng := promql.NewEngine(promql.Opts{SubqueryStep: evalInterval})
	query := rules.EngineQueryFunc(eng, mem)
	ext, err := rules.FromMaps(tg.ExternalLabels)
	if err != nil {
		return []error{err}
	}
	var extURL *url.URL
	if tg.ExternalURL != "" {
		if extURL, err = url.Parse(tg.ExternalURL); err != nil {
			return []error{err}
		}
	}
	m, err := rules.NewManager(rules.ManagerOptions{
		Query:           query,
		Appendable:      mem,
		ExternalLabels:  ext,
		ExternalURL:     extURL,
		DefaultInterval: time.Duration(tg.Interval),
	})
	if err != nil {
		return []error{err}
	}
	groups, errs := m.LoadGroups(ruleFiles...)
	if errs != nil {
		return errs
	}
	// group_eval_order is a partial order: listed groups first, in its
	// order; the others keep the files' order among themselves.
	slices.SortStableFunc(groups, func(a, b *rules.Group) int { return order[a.Name()] - order[b.Name()] })
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
	}

	// Alert checks by evaluation time.
	alertTests := map[promtime.Duration][]alertTestCase{}
	var alertTimes []promtime.Duration
	for _, a := range tg.AlertRuleTests {
		if a.Alertname == "" {
			in := ""
			if tg.TestGroupName != "" {
				in = fmt.Sprintf(" (in TestGroup %s)", tg.TestGroupName)
			}
			return []error{fmt.Errorf("an item under alert_rule_test misses required attribute alertname at eval_time %v%s", a.EvalTime, in)}
		}
		if _, ok := alertTests[a.EvalTime]; !ok {
			alertTimes = append(alertTimes, a.EvalTime)
		}
		alertTests[a.EvalTime] = append(alertTests[a.EvalTime], a)
	}
	slices.Sort(alertTimes)

	eq := func(a, b float64) bool { return a == b }
	if fuzzy {
		eq = func(a, b float64) bool {
			return a == b || math.Nextafter(a, math.Inf(-1)) == b || math.Nextafter(a, math.Inf(1)) == b
		}
	}

	ctx := context.Background()
	var out []error
	curr := 0
	for ts := mint; !ts.After(maxt); ts = ts.Add(evalInterval) {
		if err := input.loadTill(mem, ts); err != nil {
			return append(out, err)
		}
		var evalErrs []error
		for _, g := range groups {
			g.Eval(ctx, ts)
			for _, r := range g.Rules() {
				if err := r.Status().LastError; err != nil {
					evalErrs = append(evalErrs, fmt.Errorf("    rule: %s, time: %s, err: %w", r.Name(), ts.Sub(time.Unix(0, 0).UTC()), err))
				}
			}
		}
		if len(evalErrs) > 0 {
			return append(out, evalErrs...)
		}
		// Alert tests whose time falls in [ts, ts+evalInterval) are checked
		// against this evaluation.
		for curr < len(alertTimes) && ts.Sub(mint) <= time.Duration(alertTimes[curr]) &&
			time.Duration(alertTimes[curr]) < ts.Add(evalInterval).Sub(mint) {
			t := alertTimes[curr]
			for _, tc := range alertTests[t] {
				if err := tg.checkAlerts(groups, tc); err != nil {
					out = append(out, err)
				}
			}
			curr++
		}
	}

	for _, tc := range tg.PromqlExprTests {
		if err := tg.checkExpr(ctx, query, mint, tc, eq); err != nil {
			out = append(out, err)
		}
	}
	return out
}

func (tg *testGroup) maxEvalTime() time.Duration {
	var d promtime.Duration
	for _, a := range tg.AlertRuleTests {
		d = max(d, a.EvalTime)
	}
	for _, p := range tg.PromqlExprTests {
		d = max(d, p.EvalTime)
	}
	return time.Duration(d)
}

// inputSamples are the input series, expanded, in time order per series.
type inputSamples struct {
	series []inputSeries
}

type inputSeries struct {
	labels model.Labels
	ts     []int64
	vs     []float64
	next   int
}

func (tg *testGroup) parseInput(mint time.Time) (*inputSamples, error) {
	in := &inputSamples{}
	step := time.Duration(tg.Interval)
	for _, s := range tg.InputSeries {
		l, vals, err := promqltest.ParseSeriesDesc(s.Series + " " + s.Values)
		if err != nil {
			return nil, fmt.Errorf("load input series %s: %w", s.Series, err)
		}
		is := inputSeries{labels: l}
		for i, v := range vals {
			if v.Missing {
				continue
			}
			is.ts = append(is.ts, mint.Add(time.Duration(i)*step).UnixMilli())
			is.vs = append(is.vs, v.V)
		}
		in.series = append(in.series, is)
	}
	return in, nil
}

// loadTill appends every input sample at or before ts not yet loaded.
func (in *inputSamples) loadTill(mem *store.Memory, ts time.Time) error {
	t := ts.UnixMilli()
	for i := range in.series {
		s := &in.series[i]
		for s.next < len(s.ts) && s.ts[s.next] <= t {
			if err := mem.St.Append(s.labels, s.ts[s.next], s.vs[s.next]); err != nil {
				return err
			}
			s.next++
		}
	}
	return nil
}

// kv is a sorted list of name/value pairs that, unlike model.Labels, keeps
// empty values: an expected annotation may be "".
type kv []model.Label

func kvOf(m map[string]string) kv {
	out := make(kv, 0, len(m))
	for k, v := range m {
		out = append(out, model.Label{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b model.Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func kvOfLabels(l model.Labels) kv {
	out := make(kv, 0, l.Len())
	for x := range l.All() {
		out = append(out, x)
	}
	return out
}

func (a kv) compare(b kv) int {
	return slices.CompareFunc(a, b, func(x, y model.Label) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
}

var legacyName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// String prints the pairs as Prometheus's labels.Labels does:
// {__name__="up", job="api"}, names that are not classic identifiers
// quoted.
func (a kv) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range a {
		if i > 0 {
			b.WriteString(", ")
		}
		if legacyName.MatchString(x.Name) {
			b.WriteString(x.Name)
		} else {
			b.WriteString(strconv.Quote(x.Name))
		}
		b.WriteByte('=')
		b.WriteString(strconv.Quote(x.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// labelAndAnnotation is an alert as the test compares and prints it.
type labelAndAnnotation struct{ labels, annotations kv }

func (tg *testGroup) checkAlerts(groups []*rules.Group, tc alertTestCase) error {
	var got []labelAndAnnotation
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			if ar.Name() != tc.Alertname {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					got = append(got, labelAndAnnotation{kvOfLabels(a.Labels), kvOf(a.Annotations)})
				}
			}
		}
	}
	var exp []labelAndAnnotation
	for _, a := range tc.ExpAlerts {
		l := map[string]string{}
		for k, v := range a.ExpLabels {
			l[k] = v
		}
		l["alertname"] = tc.Alertname
		exp = append(exp, labelAndAnnotation{kvOf(l), kvOf(a.ExpAnnotations)})
	}
	sortLA(got)
	sortLA(exp)
	if slices.EqualFunc(exp, got, func(a, b labelAndAnnotation) bool {
		return a.labels.compare(b.labels) == 0 && a.annotations.compare(b.annotations) == 0
	}) {
		return nil
	}
	name := ""
	if tg.TestGroupName != "" {
		name = fmt.Sprintf("    name: %s,\n", tg.TestGroupName)
	}
	return fmt.Errorf("%s    alertname: %s, time: %s, \n        exp:%v, \n        got:%v",
		name, tc.Alertname, tc.EvalTime, indentLines(laString(exp), "            "), indentLines(laString(got), "            "))
}

func sortLA(s []labelAndAnnotation) {
	slices.SortFunc(s, func(a, b labelAndAnnotation) int {
		if c := a.labels.compare(b.labels); c != 0 {
			return c
		}
		return a.annotations.compare(b.annotations)
	})
}

func laString(la []labelAndAnnotation) string {
	if len(la) == 0 {
		return "[]"
	}
	var b strings.Builder
	for i, x := range la {
		if i == 0 {
			b.WriteString("[\n0:")
		} else {
			b.WriteString(",\n" + strconv.Itoa(i) + ":")
		}
		b.WriteString(indentLines("\nLabels:"+x.labels.String()+"\nAnnotations:"+x.annotations.String(), "  "))
	}
	b.WriteString("\n]")
	return b.String()
}

func indentLines(s, indent string) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = indent + lines[i]
	}
	return strings.Join(lines, "\n")
}

type parsedSample struct {
	labels model.Labels
	value  float64
}

func (s parsedSample) String() string {
	return kvOfLabels(s.labels).String() + " " + strconv.FormatFloat(s.value, 'E', -1, 64)
}

func samplesString(ss []parsedSample) string {
	if len(ss) == 0 {
		return "nil"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}

func (tg *testGroup) checkExpr(ctx context.Context, query rules.QueryFunc, mint time.Time, tc promqlTestCase, eq func(a, b float64) bool) error {
	vec, err := query(ctx, tc.Expr, mint.Add(time.Duration(tc.EvalTime)))
	if err != nil {
		return fmt.Errorf("    expr: %q, time: %s, err: %s", tc.Expr, tc.EvalTime, err.Error())
	}
	got := make([]parsedSample, 0, len(vec))
	for _, s := range vec {
		got = append(got, parsedSample{s.Metric, s.F})
	}
	var exp []parsedSample
	for _, s := range tc.ExpSamples {
		l, _, err := promqltest.ParseSeriesDesc(s.Labels)
		if err == nil && s.Histogram != "" {
			err = errors.New("native histograms are not supported")
		}
		if err != nil {
			return fmt.Errorf("    expr: %q, time: %s, err: %w", tc.Expr, tc.EvalTime, fmt.Errorf("labels %q: %w", s.Labels, err))
		}
		exp = append(exp, parsedSample{l, s.Value})
	}
	byLabels := func(a, b parsedSample) int { return a.labels.Compare(b.labels) }
	slices.SortStableFunc(exp, byLabels)
	slices.SortStableFunc(got, byLabels)
	if slices.EqualFunc(exp, got, func(a, b parsedSample) bool { return a.labels.Equal(b.labels) && eq(a.value, b.value) }) {
		return nil
	}
	return fmt.Errorf("    expr: %q, time: %s,\n        exp: %v\n        got: %v", tc.Expr, tc.EvalTime, samplesString(exp), samplesString(got))
}
