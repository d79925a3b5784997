package template

import (
	"context"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
)

// The expected strings are the outputs Prometheus's documentation and its
// own template tests give for these inputs.
func TestHumanizers(t *testing.T) {
	cases := []struct {
		fn   func(any) (string, error)
		in   any
		want string
	}{
		{Humanize, 0.0, "0"},
		{Humanize, 1.0, "1"},
		{Humanize, 1234.0, "1.234k"},
		{Humanize, 12345.0, "12.35k"},
		{Humanize, 1234567.0, "1.235M"},
		{Humanize, -1234567.0, "-1.235M"},
		{Humanize, 0.1, "100m"},
		{Humanize, 0.0001, "100u"},
		{Humanize, math.Inf(1), "+Inf"},
		{Humanize, math.NaN(), "NaN"},
		{Humanize, "1234", "1.234k"},
		{Humanize, 1500 * time.Millisecond, "1.5"},
		{Humanize1024, 0.0, "0"},
		{Humanize1024, 1.5, "1.5"},
		{Humanize1024, 1024.0, "1ki"},
		{Humanize1024, 1536.0, "1.5ki"},
		{Humanize1024, 1048576.0, "1Mi"},
		{HumanizeDuration, 0.0, "0s"},
		{HumanizeDuration, 0.1, "100ms"},
		{HumanizeDuration, 0.0001, "100us"},
		{HumanizeDuration, 1.0, "1s"},
		{HumanizeDuration, 4.5, "4.5s"},
		{HumanizeDuration, 60.0, "1m 0s"},
		{HumanizeDuration, 3600.0, "1h 0m 0s"},
		{HumanizeDuration, 86400.0, "1d 0h 0m 0s"},
		{HumanizeDuration, 90061.0, "1d 1h 1m 1s"},
		{HumanizeDuration, -90061.0, "-1d 1h 1m 1s"},
		{HumanizePercentage, 0.1234567, "12.35%"},
		{HumanizePercentage, 0.85, "85%"},
		{HumanizeTimestamp, 1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC"},
		{HumanizeTimestamp, 0.0, "1970-01-01 00:00:00 +0000 UTC"},
		{HumanizeTimestamp, math.Inf(1), "+Inf"},
	}
	for _, c := range cases {
		got, err := c.fn(c.in)
		if err != nil || got != c.want {
			t.Errorf("%v: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := Humanize(struct{}{}); err == nil || err.Error() != "can't convert struct {} to float" {
		t.Errorf("Humanize(struct{}{}) error %v", err)
	}
	if _, err := Humanize("abc"); err == nil || !strings.Contains(err.Error(), `parsing "abc": invalid syntax`) {
		t.Errorf(`Humanize("abc") error %v`, err)
	}
}

func TestAlertTemplates(t *testing.T) {
	ts := time.Date(2024, 1, 15, 14, 5, 15, 0, time.UTC)
	var asked []string
	query := func(_ context.Context, q string, at time.Time) (promql.Vector, error) {
		asked = append(asked, q+"@"+at.Format(time.TimeOnly))
		switch q {
		case "up":
			return promql.Vector{
				{Metric: model.MustFromStrings("__name__", "up", "instance", "b:9100"), F: 0},
				{Metric: model.MustFromStrings("__name__", "up", "instance", "a:9100"), F: 1},
			}, nil
		case "nothing":
			return nil, nil
		}
		return nil, errors.New("boom")
	}
	ext, _ := url.Parse("http://prom.example:9090/prefix")
	data := AlertData{
		Labels:         map[string]string{"instance": "server1.example.com:9100", "job": "node"},
		ExternalLabels: map[string]string{"cluster": "eu1"},
		ExternalURL:    ext.String(),
		Value:          0.8512,
	}
	cases := map[string]string{
		"plain":                                                 "plain",
		"{{ $labels.instance }} at {{ $value }}":                "server1.example.com:9100 at 0.8512",
		"{{ $value | humanizePercentage }}":                     "85.12%",
		"{{ $externalLabels.cluster }} {{ $externalURL }}":      "eu1 http://prom.example:9090/prefix",
		"{{ $labels.missing }}|":                                "|",
		"{{ $labels.instance | stripPort }}":                    "server1.example.com",
		"{{ $labels.instance | stripDomain }}":                  "server1:9100",
		`{{ "10.0.0.1:80" | stripDomain }}`:                     "10.0.0.1:80",
		`{{ "high cpu on node" | title }}`:                      "High Cpu On Node",
		`{{ "abc" | toUpper }}{{ "DEF" | toLower }}`:            "ABCdef",
		`{{ reReplaceAll "(.*):.*" "$1" $labels.instance }}`:    "server1.example.com",
		`{{ if match "^server" $labels.instance }}yes{{ end }}`: "yes",
		`{{ with query "up" }}{{ . | first | label "instance" }}={{ . | first | value }}{{ end }}`: "b:9100=0",
		`{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }} {{ end }}`:          "a:9100 b:9100 ",
		`{{ graphLink "rate(x[5m])" }}`:                    "/graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=0",
		`{{ tableLink "up" }}`:                             "/graph?g0.expr=up&g0.tab=1",
		`{{ now }}`:                                        "1.705327515e+09",
		`{{ pathPrefix }}`:                                 "/prefix",
		`{{ parseDuration "1h30m" }}`:                      "5400",
		`{{ "1h30m" | parseDuration | humanizeDuration }}`: "1h 30m 0s",
		`{{ 1705327515 | toTime }}`:                        "2024-01-15 14:05:15 +0000 UTC",
		`{{ (args 1 "x").arg1 }}`:                          "x",
		`{{ urlQueryEscape "a b&c" }}`:                     "a+b%26c",
	}
	for text, want := range cases {
		got, err := NewAlert(context.Background(), text, "HighCPU", data, ts, query, ext).Expand()
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", text, got, err, want)
		}
	}
	if len(asked) == 0 || asked[0] != "up@14:05:15" {
		t.Errorf("query not run at the evaluation time: %v", asked)
	}

	// Columns count from the start of the line, which begins with the
	// $labels/$value definitions.
	col := func(n int) string { return strconv.Itoa(len(alertDefs) + n) }
	errCases := map[string]string{
		"{{ $labels.instance ": `error parsing template __alert_HighCPU: template: __alert_HighCPU:1: unclosed action`,
		`{{ query "nothing" | first }}`: `error executing template __alert_HighCPU: template: __alert_HighCPU:1:` + col(21) +
			`: executing "__alert_HighCPU" at <first>: error calling first: first() called on vector with no elements`,
		`{{ query "bad" }}`: `error executing template __alert_HighCPU: template: __alert_HighCPU:1:` + col(3) +
			`: executing "__alert_HighCPU" at <query "bad">: error calling query: boom`,
		`{{ reReplaceAll "(" "" "x" }}`: `error executing template __alert_HighCPU: template: __alert_HighCPU:1:` + col(3) +
			`: executing "__alert_HighCPU" at <reReplaceAll "(" "" "x">: error calling reReplaceAll: regexp: Compile(` + "`(`): error parsing regexp: missing closing ): `(`",
	}
	for text, want := range errCases {
		_, err := NewAlert(context.Background(), text, "HighCPU", data, ts, query, ext).Expand()
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", text, err, want)
		}
	}
	if err := NewAlert(context.Background(), "{{ nosuchfunc }}", "X", AlertData{}, ts, nil, nil).ParseTest(); err == nil ||
		err.Error() != `template: __alert_X:1: function "nosuchfunc" not defined` {
		t.Errorf("ParseTest error %v", err)
	}
	if !IsPlain("severity") || IsPlain("{{ $value }}") {
		t.Error("IsPlain")
	}
}
