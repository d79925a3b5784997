package text

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		in      string
		labels  model.Labels
		v       float64
		ms      int64
		hasTime bool
	}{
		{`cpu_usage{host="server1",region="us-east"} 0.75 1703001600`, model.MustFromStrings("__name__", "cpu_usage", "host", "server1", "region", "us-east"), 0.75, 1703001600000, true},
		{`memory_usage{host="server1"} 0.45`, model.MustFromStrings("__name__", "memory_usage", "host", "server1"), 0.45, 0, false},
		{`up 1 1703001600.25`, model.MustFromStrings("__name__", "up"), 1, 1703001600250, true},
		{`  x{ a = "b\"q" , } -Inf 0.0005`, model.MustFromStrings("__name__", "x", "a", `b"q`), math.Inf(-1), 1, true},
		{`{__name__="cpu.usage",b="c d"} 2e3`, model.MustFromStrings("__name__", "cpu.usage", "b", "c d"), 2000, 0, false},
		{`x{} 1 -1.5`, model.MustFromStrings("__name__", "x"), 1, -1500, true},
	} {
		s, err := ParseLine(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !s.Labels.Equal(c.labels) || s.V != c.v || s.T != c.ms || s.HasTime != c.hasTime {
			t.Errorf("%s: got %v %v %d %v", c.in, s.Labels, s.V, s.T, s.HasTime)
		}
	}
}

func TestParseLineErrors(t *testing.T) {
	for in, col := range map[string]string{
		`cpu{host="a"`:           "column 13",
		`cpu{host=a} 1`:          "column 10",
		`cpu{="a"} 1`:            "column 5",
		`cpu{a="1",a="2"} 1`:     "duplicate",
		`{a="b"} 1`:              "metric name",
		`cpu`:                    "expected a value",
		`cpu abc`:                "column 5",
		`cpu 1 2 3`:              "column 9",
		`cpu 1 yesterday`:        "column 7",
		`cpu{a="b"}1`:            "column 11",
		`cpu 1 1e300`:            "timestamp",
		`9cpu 1`:                 "metric name",
		`cpu{a="b" c="d"} 1 2`:   "column 11",
		"cpu{a=\"\\xZZ\"} 1":     "column 7",
		`cpu{a='single'} 1 2`:    "double-quoted",
		`cpu 1 NaN`:              "timestamp",
		`cpu{a="b",} 1 2 # note`: "unexpected",
	} {
		_, err := ParseLine(in)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), col) {
			t.Errorf("%s: err = %v, want ErrSyntax mentioning %q", in, err, col)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add(`cpu_usage{host="server1",region="us-east"} 0.75 1703001600`)
	f.Add(`x{a="\u00e9"} NaN`)
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseLine(s)
		if err == nil && ts.Labels.Name() == "" {
			t.Fatalf("%q: accepted without a metric name", s)
		}
	})
}
