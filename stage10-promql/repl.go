package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
)

const helpText = `  <expr>                  evaluate a PromQL expression (instant, or range after :range)
  :at <time>              evaluation time: RFC 3339, unix seconds, or a duration
                          after 1970-01-01 (1h30m) as in test scripts
  :range <start> <end> <step>   evaluate as range queries; ":range off" to stop
  :load FILE              add the "load" blocks of a test script to the store,
                          and move the evaluation time to their end
  :explain <expr>         the syntax tree, with each node's type
  :help                   this text
  :quit                   leave (end of input does too)
`

// The demo data: one hour at a 15s scrape, ending at demoEnd.
var (
	demoEnd    = time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)
	demoSpan   = time.Hour
	demoScrape = 15 * time.Second
)

type session struct {
	eng        *promql.Engine
	st         *promql.MemStorage
	at         time.Time
	rangeMode  bool
	start, end time.Time
	step       time.Duration
	now        func() time.Time // injected so tests can fix the timing line
}

func cmdRepl(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "repl", "[--seed N] [--enable-feature F,...]", stderr)
	seed := fs.Uint64("seed", 1, "seed of the generated demo data")
	var flags promql.FeatureFlag
	fs.Var(&flags, "enable-feature", "PromQL features to enable, comma-separated, repeatable, as in Prometheus: "+
		"promql-experimental-functions, promql-delayed-name-removal, promql-binop-fill-modifiers, "+
		"promql-unquoted-utf8-names, use-start-timestamps")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	features, unknown := promql.ParseFeatures(flags)
	for _, f := range unknown {
		fmt.Fprintf(stderr, "warning: unknown --enable-feature %q ignored\n", f)
	}
	s, err := newSession(*seed, features)
	if err != nil {
		return err
	}
	series, samples := s.st.Stats()
	fmt.Fprintf(stdout, "PromQL Engine v0.1 (stage10-promql)\n")
	fmt.Fprintf(stdout, "demo data: %s series, %s samples, every %s from %s to %s; evaluating at %s (:help for commands)\n",
		cli.Thousands(series), cli.Thousands(samples), demoScrape, demoEnd.Add(-demoSpan).Format("15:04"),
		demoEnd.Format("15:04 UTC 2006-01-02"), demoEnd.Format("15:04"))
	if err := s.run(stdin, stdout, cli.IsTerminal(stdin)); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	return nil
}

func newSession(seed uint64, features promql.Features) (*session, error) {
	s := &session{eng: promql.NewEngine(promql.Opts{Timeout: 30 * time.Second, Features: features}), st: promql.NewMemStorage(),
		at: demoEnd, now: time.Now}
	if err := gen.Demo(s.st, demoEnd.Add(-demoSpan), demoSpan, demoScrape, seed); err != nil {
		return nil, err
	}
	// The parser builds its grammar on first use (about a millisecond);
	// do it now, so that the first "Query time" is the query's.
	if _, err := parser.ParseExpr("up"); err != nil {
		return nil, err
	}
	return s, nil
}

// run reads lines until :quit or end of input (see cli.REPL: errors are
// printed and the session goes on). Piped input is echoed, so the output
// reads like a session.
func (s *session) run(in io.Reader, out io.Writer, prompt bool) error {
	return cli.REPL(in, out, cli.REPLOptions{Prompt: "> ", Interactive: prompt, Echo: true},
		func(line string, w io.Writer) error { return s.exec(strings.TrimSpace(line), w) })
}

func (s *session) exec(line string, w io.Writer) error {
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	if !strings.HasPrefix(line, ":") {
		return s.query(line, w)
	}
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case ":help":
		fmt.Fprint(w, helpText)
	case ":quit", ":exit":
		return cli.ErrQuit
	case ":at":
		t, err := parseTime(arg)
		if err != nil {
			return err
		}
		s.at, s.rangeMode = t, false
		fmt.Fprintf(w, "evaluating at %s\n", t.UTC().Format(time.RFC3339))
	case ":range":
		if arg == "off" {
			s.rangeMode = false
			fmt.Fprintf(w, "instant queries at %s\n", s.at.UTC().Format(time.RFC3339))
			return nil
		}
		f := strings.Fields(arg)
		if len(f) != 3 {
			return fmt.Errorf(":range wants <start> <end> <step>")
		}
		start, err1 := parseTime(f[0])
		end, err2 := parseTime(f[1])
		step, err3 := parser.ParseDuration(f[2])
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		if !end.After(start) && !end.Equal(start) {
			return fmt.Errorf(":range: end is before start")
		}
		s.start, s.end, s.step, s.rangeMode = start, end, step, true
		fmt.Fprintf(w, "range queries from %s to %s every %s\n", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), parser.FormatDuration(step))
	case ":explain":
		e, err := s.eng.Parse(arg)
		if err != nil {
			return err
		}
		fmt.Fprint(w, parser.Tree(e))
	case ":load":
		b, err := os.ReadFile(arg)
		if err != nil {
			return err
		}
		before, _ := s.st.Stats()
		series, samples, lastMs, err := promqltest.Load(s.st, string(b))
		if err != nil {
			return err
		}
		after, _ := s.st.Stats()
		last := time.UnixMilli(lastMs)
		s.at, s.rangeMode = last, false
		fmt.Fprintf(w, "loaded %s series (%s new), %s samples; evaluating at %s\n",
			cli.Thousands(series), cli.Thousands(after-before), cli.Thousands(samples), last.UTC().Format(time.RFC3339))
	default:
		return fmt.Errorf("unknown command %s (:help lists them)", cmd)
	}
	return nil
}

// query parses and evaluates one expression; "Query time" covers both.
// Warnings and infos follow the result, as Prometheus's API returns them.
func (s *session) query(q string, w io.Writer) error {
	t0 := s.now()
	expr, err := s.eng.Parse(q)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if s.rangeMode {
		r, err := s.eng.Exec(ctx, s.st, promql.Query{Expr: expr, Start: s.start, End: s.end, Step: s.step})
		if err != nil {
			return err
		}
		elapsed := s.now().Sub(t0)
		fmt.Fprintf(w, "TYPE: range vector (%s evaluated at %d steps)\n", expr.Type().DocumentedType(), int(s.end.Sub(s.start)/s.step)+1)
		printRange(w, r.Value.(promql.Matrix))
		printAnnotations(w, q, r.Annotations)
		fmt.Fprintf(w, "Query time: %s\n", cli.Duration(elapsed))
		return nil
	}
	r, err := s.eng.Exec(ctx, s.st, promql.Query{Expr: expr, Start: s.at, End: s.at})
	if err != nil {
		return err
	}
	v := r.Value
	elapsed := s.now().Sub(t0)
	fmt.Fprintf(w, "TYPE: %s\n", expr.Type().DocumentedType())
	switch v := v.(type) {
	case promql.Vector:
		for _, smp := range v {
			val := formatValue(smp.F)
			if smp.H != nil {
				val = promql.FormatHistogram(smp.H)
			}
			fmt.Fprintf(w, "%s %s\n", promql.MetricString(smp.Metric), val)
		}
		if len(v) == 0 {
			fmt.Fprintln(w, "(empty)")
		}
	case promql.Scalar:
		fmt.Fprintln(w, formatValue(v.V))
	case promql.String:
		fmt.Fprintln(w, strconv.Quote(v.V))
	case promql.Matrix:
		for _, sr := range v {
			fmt.Fprintf(w, "%s\n", promql.MetricString(sr.Metric))
			for _, p := range sr.Floats {
				fmt.Fprintf(w, "  %s @ %s\n", formatValue(p.V), time.UnixMilli(p.T).UTC().Format("15:04:05"))
			}
			for _, p := range sr.Histograms {
				fmt.Fprintf(w, "  %s @ %s\n", promql.FormatHistogram(p.H), time.UnixMilli(p.T).UTC().Format("15:04:05"))
			}
		}
	}
	printAnnotations(w, q, r.Annotations)
	fmt.Fprintf(w, "Query time: %s\n", cli.Duration(elapsed))
	return nil
}

// printAnnotations shows a query's warnings and infos, one per line.
func printAnnotations(w io.Writer, q string, as promql.Annotations) {
	warnings, infos := as.Strings(q)
	for _, m := range warnings {
		fmt.Fprintln(w, "warning:", strings.TrimPrefix(m, "PromQL warning: "))
	}
	for _, m := range infos {
		fmt.Fprintln(w, "info:", strings.TrimPrefix(m, "PromQL info: "))
	}
}

// printRange shows each series of a range result as min, max and a
// sparkline over the steps (blank where the series has no value).
func printRange(w io.Writer, m promql.Matrix) {
	if len(m) == 0 {
		fmt.Fprintln(w, "(empty)")
		return
	}
	for _, sr := range m {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range sr.Floats {
			lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
		}
		if len(sr.Floats) == 0 {
			// A series of histograms: how many, and the count of the last.
			last := sr.Histograms[len(sr.Histograms)-1]
			fmt.Fprintf(w, "%s  %d histograms, the last %s\n", promql.MetricString(sr.Metric), len(sr.Histograms), promql.FormatHistogram(last.H))
			continue
		}
		fmt.Fprintf(w, "%s  %d points, min %s max %s\n  %s\n", promql.MetricString(sr.Metric), len(sr.Floats),
			formatValue(lo), formatValue(hi), sparkline(sr.Floats, lo, hi))
	}
}

func sparkline(pts []promql.Point, lo, hi float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	r := []rune(bars)
	const width = 60
	var b strings.Builder
	step := max(1, (len(pts)+width-1)/width)
	for i := 0; i < len(pts); i += step {
		v := pts[i].V
		k := 0
		if hi > lo && !math.IsNaN(v) {
			k = int((v - lo) / (hi - lo) * float64(len(r)-1))
		}
		b.WriteRune(r[k])
	}
	return b.String()
}

// formatValue: integers in full, others to six significant digits.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return promql.FormatValue(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// parseTime reads RFC 3339, unix seconds, or a duration after the epoch.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(math.Round(f * 1000))), nil
	}
	if d, err := parser.ParseDuration(s); err == nil {
		return time.UnixMilli(d.Milliseconds()), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339, unix seconds or a duration", s)
}
