package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// fixedClock makes every query take exactly 1ms, so outputs can be compared whole.
func fixedClock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(500 * time.Microsecond)
		return t
	}
}

func runSession(t *testing.T, input string) string {
	t.Helper()
	s := newSession()
	s.now = fixedClock()
	var out bytes.Buffer
	if err := s.run(strings.NewReader(input), &out, false); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// The guide's "Real world outcome", typed in by hand from the guide.
func TestGuideTranscript(t *testing.T) {
	in := `INSERT cpu.usage host=server1 region=us-east 1703001600 0.75
INSERT cpu.usage host=server1 region=us-east 1703001610 0.82
INSERT cpu.usage host=server2 region=us-west 1703001600 0.45
QUERY cpu.usage{host=server1} FROM 1703001600 TO 1703001620
`
	want := `OK
OK
OK
[1703001600, 0.75]
[1703001610, 0.82]
2 points returned in 0.500ms
`
	if got := runSession(t, in); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSessionCommands(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"several series print their names in label order",
			"INSERT m b=2 a=1 10 1\nINSERT m a=0 10 2\nINSERT other a=1 10 3\nQUERY m FROM 0 TO 100\n",
			"OK\nOK\nOK\nm{a=\"0\"}\n[10, 2]\nm{a=\"1\",b=\"2\"}\n[10, 1]\n2 points returned in 0.500ms\n"},
		{"tag subset, tag order and spaces do not matter",
			"INSERT m region=x host=h 5 1.5\nQUERY m{ region = x , host=\"h\" } FROM 5 TO 5\nquery m{host=h} from 5 to 5\n",
			"OK\n[5, 1.5]\n1 points returned in 0.500ms\n[5, 1.5]\n1 points returned in 0.500ms\n"},
		{"selector without metric name",
			"INSERT a h=1 1 1\nINSERT b h=1 2 2\nINSERT c h=2 3 3\nQUERY {h=1} FROM 0 TO 9\n",
			"OK\nOK\nOK\na{h=\"1\"}\n[1, 1]\nb{h=\"1\"}\n[2, 2]\n2 points returned in 0.500ms\n"},
		{"last write wins, late writes sorted",
			"INSERT m 30 3\nINSERT m 10 1\nINSERT m 20 2\nINSERT m 10 9\nQUERY m FROM 10 TO 30\n",
			"OK\nOK\nOK\nOK\n[10, 9]\n[20, 2]\n[30, 3]\n3 points returned in 0.500ms\n"},
		{"no match", "QUERY m FROM 0 TO 1\n", "0 points returned in 0.500ms\n"},
		{"values print exactly", "INSERT m 1 1703001600\nINSERT m 2 -0.001\nINSERT m 3 NaN\nINSERT m 4 +Inf\nQUERY m FROM 1 TO 4\n",
			"OK\nOK\nOK\nOK\n[1, 1703001600]\n[2, -0.001]\n[3, NaN]\n[4, +Inf]\n4 points returned in 0.500ms\n"},
		{"errors keep the session going",
			"FOO\nINSERT m 1\nINSERT m x 1 1\nINSERT m a=1 abc 1\nINSERT m a=1 1 abc\nINSERT m a=1 a=2 1 1\nQUERY m FROM x TO 1\nQUERY m FROM 5 TO 1\nQUERY m{a=1 FROM 1 TO 2\nQUERY m\nINSERT m 1 1\n",
			"error: unknown command \"FOO\" (try HELP)\n" +
				"error: INSERT needs <metric> [<tag>=<value>...] <unix-seconds> <value>\n" +
				"error: INSERT: expected <tag>=<value>, got \"x\"\n" +
				"error: INSERT: expected unix seconds, got \"abc\"\n" +
				"error: INSERT: expected a number as value, got \"abc\"\n" +
				"error: INSERT: tag \"a\" given twice\n" +
				"error: QUERY: expected unix seconds after FROM, got \"x\"\n" +
				"error: QUERY: FROM 5 is after TO 1\n" +
				"error: QUERY: missing '}' in \"m{a=1\"\n" +
				"error: QUERY needs <metric>{<tag>=<value>,...} FROM <t1> TO <t2>\n" +
				"OK\n"},
		{"EXIT stops reading", "INSERT m 1 1\nEXIT\nINSERT m 2 2\n", "OK\n"},
		{"blank lines and comments are ignored", "\n   \n# note\nINSERT m 1 1\n", "OK\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runSession(t, tc.in); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	out := runSession(t, "STATS\nINSERT a 1 1\nINSERT a 2 1\nINSERT b x=y 1 1\nSTATS\n")
	re := regexp.MustCompile(`(?s)^Series: +0\nPoints: +0\nBytes per point: n/a.*\nOK\nOK\nOK\nSeries: +2\nPoints: +3\nBytes per point: [0-9.]+ in columns, [0-9.]+ with per-series overhead \(.* in all\)\n$`)
	if !re.MatchString(out) {
		t.Errorf("unexpected STATS output:\n%s", out)
	}
}

func TestRunExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bogus"}, strings.NewReader(""), &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), "error: ") {
		t.Errorf("unknown subcommand: code %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"-h"}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "INSERT") {
		t.Errorf("-h: code %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := run(nil, strings.NewReader("INSERT m 1 1\n"), &out, &errOut); code != 0 || out.String() != "OK\n" {
		t.Errorf("piped REPL: code %d, stdout %q", code, out.String())
	}
}

func TestDemoRuns(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "--points", "20000", "--series", "20"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"2 points returned in", "Inserted 20,000 points in", "Series:          22", "Points:          20003"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseSelector(t *testing.T) {
	for in, want := range map[string]string{
		"cpu.usage":                          "cpu.usage",
		"cpu.usage{}":                        "cpu.usage",
		"cpu.usage{host=server1}":            `cpu.usage{host="server1"}`,
		`cpu.usage{region="us east",host=a}`: `cpu.usage{host="a",region="us east"}`,
		"{host=a}":                           `{host="a"}`,
	} {
		ls, err := parseSelector(in)
		if err != nil || ls.String() != want {
			t.Errorf("parseSelector(%q) = %v, %v; want %s", in, ls, err, want)
		}
	}
	for _, in := range []string{"", "{}", "a{b}", "a{b=}", "a{=b}", "a{b=c", "a b"} {
		if _, err := parseSelector(in); err == nil {
			t.Errorf("parseSelector(%q) succeeded, want an error", in)
		}
	}
}

// FuzzSession feeds arbitrary lines to the REPL: it must never panic, and a
// QUERY that follows an accepted INSERT must find the point.
func FuzzSession(f *testing.F) {
	for _, s := range []string{"INSERT m a=1 1 1", "QUERY m{a=1} FROM 1 TO 1", "INSERT x\"y z=\"q 5 NaN", "QUERY {=} FROM TO", "INSERT m{} 1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s := newSession()
		var out bytes.Buffer
		_ = s.exec(line, &out)
		if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(line)), "INSERT") || out.String() != "OK\n" {
			return
		}
		st := s.store.Stats()
		if st.Series != 1 || st.Points != 1 {
			t.Fatalf("after %q: %d series, %d points", line, st.Series, st.Points)
		}
		var ls model.Labels
		for _, sr := range s.store.Select(model.Labels{}) {
			ls = sr.Labels()
		}
		if s.store.Lookup(ls) == nil {
			t.Fatalf("series %v not found by its own labels", ls)
		}
	})
}
