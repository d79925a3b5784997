package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/memstore"
	"github.com/tsdb-course/stage01-memstore/model"
)

const helpText = `Commands (keywords in any case):
  INSERT <metric> <tag>=<value>... <unix-seconds> <value>
      add a point; a later write to the same timestamp replaces it        -> OK
  QUERY <metric>{<tag>=<value>,...} FROM <t1> TO <t2>
      points with t1 <= t <= t2 of every series that has those tags; the
      braces are optional without tags, values may be "quoted"
  STATS   series, points and bytes per point in memory
  HELP    this text
  EXIT    leave (end of input does too)`

// session is one REPL: a store and the commands that act on it.
type session struct {
	store *memstore.Store
	now   func() time.Time // injected so tests can fix the timing line
}

func newSession() *session { return &session{store: memstore.New(), now: time.Now} }

// run reads commands line by line until EXIT or end of input (see cli.REPL:
// a bad line prints "error: ..." and the session goes on). With prompt set
// (a terminal), "> " is printed before each line.
func (s *session) run(in io.Reader, out io.Writer, prompt bool) error {
	return cli.REPL(in, out, cli.REPLOptions{Prompt: "> ", Interactive: prompt}, s.exec)
}

// exec runs one command line, writing its output to w.
func (s *session) exec(line string, w io.Writer) error {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
		return nil
	}
	switch strings.ToUpper(fields[0]) {
	case "INSERT":
		return s.insert(fields[1:], w)
	case "QUERY":
		return s.query(strings.TrimSpace(line[strings.Index(line, fields[0])+len(fields[0]):]), w)
	case "STATS":
		s.stats(w)
		return nil
	case "HELP":
		fmt.Fprintln(w, helpText)
		return nil
	case "EXIT", "QUIT":
		return cli.ErrQuit
	}
	return fmt.Errorf("unknown command %q (try HELP)", fields[0])
}

// insert handles "<metric> <tag>=<value>... <unix-seconds> <value>".
func (s *session) insert(args []string, w io.Writer) error {
	if len(args) < 3 {
		return errors.New("INSERT needs <metric> [<tag>=<value>...] <unix-seconds> <value>")
	}
	metric, tagArgs := args[0], args[1:len(args)-2]
	if strings.ContainsAny(metric, "={}") {
		return fmt.Errorf("INSERT: expected metric name first, got %q", metric)
	}
	ts, err := strconv.ParseInt(args[len(args)-2], 10, 64)
	if err != nil {
		return fmt.Errorf("INSERT: expected unix seconds, got %q", args[len(args)-2])
	}
	v, err := strconv.ParseFloat(args[len(args)-1], 64)
	if err != nil {
		return fmt.Errorf("INSERT: expected a number as value, got %q", args[len(args)-1])
	}
	tags := make(map[string]string, len(tagArgs))
	for _, kv := range tagArgs {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" || val == "" {
			return fmt.Errorf("INSERT: expected <tag>=<value>, got %q", kv)
		}
		if _, dup := tags[k]; dup {
			return fmt.Errorf("INSERT: tag %q given twice", k)
		}
		tags[k] = unquote(val)
	}
	ls, err := model.FromMetric(metric, tags)
	if err != nil {
		return fmt.Errorf("INSERT: %w", err)
	}
	s.store.Insert(ls, ts, v)
	fmt.Fprintln(w, "OK")
	return nil
}

// query handles "<selector> FROM <t1> TO <t2>".
func (s *session) query(rest string, w io.Writer) error {
	upper := strings.ToUpper(rest)
	from := strings.LastIndex(upper, " FROM ")
	to := strings.LastIndex(upper, " TO ")
	if from < 0 || to < from {
		return errors.New("QUERY needs <metric>{<tag>=<value>,...} FROM <t1> TO <t2>")
	}
	sel, err := parseSelector(strings.TrimSpace(rest[:from]))
	if err != nil {
		return fmt.Errorf("QUERY: %w", err)
	}
	t1s, t2s := strings.TrimSpace(rest[from+6:to]), strings.TrimSpace(rest[to+4:])
	t1, err := strconv.ParseInt(t1s, 10, 64)
	if err != nil {
		return fmt.Errorf("QUERY: expected unix seconds after FROM, got %q", t1s)
	}
	t2, err := strconv.ParseInt(t2s, 10, 64)
	if err != nil {
		return fmt.Errorf("QUERY: expected unix seconds after TO, got %q", t2s)
	}
	if t1 > t2 {
		return fmt.Errorf("QUERY: FROM %d is after TO %d", t1, t2)
	}

	start := s.now()
	results := s.store.Query(sel, t1, t2)
	elapsed := s.now().Sub(start)

	n := 0
	for _, r := range results {
		if len(results) > 1 {
			fmt.Fprintln(w, r.Labels.String())
		}
		for _, p := range r.Samples {
			fmt.Fprintf(w, "[%d, %s]\n", p.T, formatValue(p.V))
		}
		n += len(r.Samples)
	}
	fmt.Fprintf(w, "%d points returned in %.3fms\n", n, float64(elapsed.Nanoseconds())/1e6)
	return nil
}

// parseSelector parses metric{tag=value,...}; the metric or the braces may be
// left out, but not both. Values may be double-quoted.
func parseSelector(s string) (model.Labels, error) {
	name, body, hasBraces := strings.Cut(s, "{")
	name = strings.TrimSpace(name)
	pairs := []model.Label{}
	if name != "" {
		if strings.ContainsAny(name, "=}, ") {
			return model.Labels{}, fmt.Errorf("bad metric name %q", name)
		}
		pairs = append(pairs, model.Label{Name: model.MetricName, Value: name})
	}
	if hasBraces {
		inner, ok := strings.CutSuffix(strings.TrimSpace(body), "}")
		if !ok {
			return model.Labels{}, fmt.Errorf("missing '}' in %q", s)
		}
		for kv := range strings.SplitSeq(inner, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), unquote(strings.TrimSpace(v))
			if !ok || k == "" || v == "" {
				return model.Labels{}, fmt.Errorf("expected <tag>=<value>, got %q", kv)
			}
			pairs = append(pairs, model.Label{Name: k, Value: v})
		}
	}
	if len(pairs) == 0 {
		return model.Labels{}, errors.New("empty selector: give a metric name or {tag=value}")
	}
	return model.New(pairs...)
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
	}
	return v
}

// formatValue prints a float in the shortest form that reads back exactly,
// without exponent for ordinary magnitudes (1703001600, not 1.7030016e+09).
func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func (s *session) stats(w io.Writer) {
	st := s.store.Stats()
	fmt.Fprintf(w, "Series:          %d\n", st.Series)
	fmt.Fprintf(w, "Points:          %d\n", st.Points)
	if st.Points == 0 {
		fmt.Fprintln(w, "Bytes per point: n/a (no points)")
		return
	}
	fmt.Fprintf(w, "Bytes per point: %.2f in columns, %.2f with per-series overhead (%s in all)\n",
		float64(st.ColumnBytes)/float64(st.Points), float64(st.Bytes)/float64(st.Points), cli.Bytes(int64(st.Bytes)))
}
