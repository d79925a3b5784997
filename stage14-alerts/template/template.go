// Package template expands the Go text/template strings of alerting rules'
// labels and annotations with Prometheus's template functions and data, so
// that the annotations users already wrote for Prometheus,
//
//	summary: "{{ $labels.instance }} CPU at {{ $value | humanizePercentage }}"
//	description: '{{ with query "up" }}{{ . | first | value }}{{ end }}'
//
// render here to the same text.
package template

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"

	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/promtime"
)

// QueryFunc runs an instant query at t and returns its result as a vector (a
// scalar result is a one-element vector without labels). The rule manager
// evaluates rules with one; templates call it through "query".
type QueryFunc func(ctx context.Context, q string, t time.Time) (promql.Vector, error)

// AlertData is what an alerting rule's templates see as ".": .Labels,
// .ExternalLabels, .ExternalURL and .Value.
type AlertData struct {
	Labels         map[string]string
	ExternalLabels map[string]string
	ExternalURL    string
	Value          float64
}

// alertDefs give alert templates the variables Prometheus documents.
const alertDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// Sample is one element of a query result as templates see it.
type Sample struct {
	Labels map[string]string
	Value  any
}

// Expander expands one template text.
type Expander struct {
	name  string
	text  string
	data  any
	funcs texttemplate.FuncMap
}

// New returns an expander of text named name (error messages use the name)
// over data. ts is the evaluation time ("query" runs at it, "now" returns
// it); query and externalURL may be nil when the template does not use them.
func New(ctx context.Context, text, name string, data any, ts time.Time, query QueryFunc, externalURL *url.URL) *Expander {
	return &Expander{name: name, text: text, data: data, funcs: funcs(ctx, ts, query, externalURL)}
}

// NewAlert returns an expander for a label or annotation of the alerting rule
// alertName: the text is prefixed with the definitions of $labels,
// $externalLabels, $externalURL and $value, and named "__alert_<name>".
func NewAlert(ctx context.Context, text, alertName string, data AlertData, ts time.Time, query QueryFunc, externalURL *url.URL) *Expander {
	return New(ctx, alertDefs+text, "__alert_"+alertName, data, ts, query, externalURL)
}

// Expand runs the template. A template that panics (a function fed the wrong
// type, say) returns an error instead.
func (e *Expander) Expand() (result string, err error) {
	defer func() {
		if r := recover(); r != nil {
			if re, ok := r.(error); ok {
				err = re
			} else {
				err = fmt.Errorf("panic expanding template %v: %v", e.name, r)
			}
		}
	}()
	t, err := texttemplate.New(e.name).Funcs(e.funcs).Option("missingkey=zero").Parse(e.text)
	if err != nil {
		return "", fmt.Errorf("error parsing template %v: %w", e.name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, e.data); err != nil {
		return "", fmt.Errorf("error executing template %v: %w", e.name, err)
	}
	return b.String(), nil
}

// ParseTest only parses the template: rule validation calls it so that a
// syntax error is reported when the file is loaded, not when an alert fires.
func (e *Expander) ParseTest() error {
	_, err := texttemplate.New(e.name).Funcs(e.funcs).Option("missingkey=zero").Parse(e.text)
	return err
}

// parseFuncs are the function names for parse checks: parsing only looks
// the names up, so one map serves every check (building the real one per
// template costs more than the parse).
var parseFuncs = funcs(context.Background(), time.Time{}, nil, nil)

// CheckAlert parses the text of an alerting rule's label or annotation as
// NewAlert(…).ParseTest() would, without building an expander: what rule
// validation runs on every label and annotation at load time.
func CheckAlert(text, alertName string) error {
	if IsPlain(text) {
		return nil
	}
	_, err := texttemplate.New("__alert_" + alertName).Funcs(parseFuncs).Option("missingkey=zero").Parse(alertDefs + text)
	return err
}

// IsPlain reports whether text has no template actions at all, so expanding
// it would return it unchanged: the rule manager skips the template machinery
// for such labels (severity: page), which are most of them.
func IsPlain(text string) bool { return !strings.Contains(text, "{{") }

var errNaNOrInf = errors.New("value is NaN or Inf")

func funcs(ctx context.Context, ts time.Time, query QueryFunc, externalURL *url.URL) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"query": func(q string) ([]*Sample, error) {
			if query == nil {
				return nil, errors.New("query: no query function")
			}
			v, err := query(ctx, q, ts)
			if err != nil {
				return nil, err
			}
			out := make([]*Sample, len(v))
			for i, s := range v {
				out[i] = &Sample{Labels: s.Metric.Map(), Value: s.F}
			}
			return out, nil
		},
		"first": func(v []*Sample) (*Sample, error) {
			if len(v) == 0 {
				return nil, errors.New("first() called on vector with no elements")
			}
			return v[0], nil
		},
		"label":    func(name string, s *Sample) string { return s.Labels[name] },
		"value":    func(s *Sample) any { return s.Value },
		"strvalue": func(s *Sample) string { return s.Labels["__value__"] },
		"args": func(args ...any) map[string]any {
			m := make(map[string]any, len(args))
			for i, a := range args {
				m[fmt.Sprintf("arg%d", i)] = a
			}
			return m
		},
		"reReplaceAll": func(pattern, repl, text string) string {
			return regexp.MustCompile(pattern).ReplaceAllString(text, repl)
		},
		"safeHtml":  func(text string) string { return text },
		"match":     regexp.MatchString,
		"title":     cases.Title(language.AmericanEnglish, cases.NoLower).String,
		"toUpper":   strings.ToUpper,
		"toLower":   strings.ToLower,
		"graphLink": GraphLink,
		"tableLink": TableLink,
		"sortByLabel": func(name string, v []*Sample) []*Sample {
			sort.SliceStable(v, func(i, j int) bool { return v[i].Labels[name] < v[j].Labels[name] })
			return v
		},
		"stripPort": func(hostPort string) string {
			if host, _, err := net.SplitHostPort(hostPort); err == nil {
				return host
			}
			return hostPort
		},
		"stripDomain": func(hostPort string) string {
			host, port, err := net.SplitHostPort(hostPort)
			if err != nil {
				host = hostPort
			}
			if _, err := netip.ParseAddr(host); err == nil {
				return hostPort
			}
			host, _, _ = strings.Cut(host, ".")
			if port != "" {
				return net.JoinHostPort(host, port)
			}
			return host
		},
		"humanize":           Humanize,
		"humanize1024":       Humanize1024,
		"humanizeDuration":   HumanizeDuration,
		"humanizePercentage": HumanizePercentage,
		"humanizeTimestamp":  HumanizeTimestamp,
		"toTime": func(i any) (*time.Time, error) {
			v, err := toFloat(i)
			if err != nil {
				return nil, err
			}
			return floatToTime(v)
		},
		"toDuration": func(i any) (*time.Duration, error) {
			v, err := toFloat(i)
			if err != nil {
				return nil, err
			}
			d := time.Duration(v * float64(time.Second))
			return &d, nil
		},
		"now": func() float64 { return float64(ts.UnixMilli()) / 1000 },
		"pathPrefix": func() string {
			if externalURL == nil {
				return ""
			}
			return externalURL.Path
		},
		"externalURL": func() string {
			if externalURL == nil {
				return ""
			}
			return externalURL.String()
		},
		"parseDuration": func(s string) (float64, error) {
			neg := strings.HasPrefix(s, "-")
			d, err := promtime.ParseDuration(strings.TrimPrefix(s, "-"))
			if err != nil {
				return 0, err
			}
			if neg {
				d = -d
			}
			return time.Duration(d).Seconds(), nil
		},
		"urlQueryEscape": url.QueryEscape,
	}
}

// GraphLink is the path of Prometheus's graph page showing expr as a graph.
func GraphLink(expr string) string { return "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=0" }

// TableLink is the path of Prometheus's graph page showing expr as a table:
// what an alert's generatorURL points at.
func TableLink(expr string) string { return "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1" }

// toFloat accepts what Prometheus's humanize functions accept: numbers,
// numeric strings and durations (as seconds).
func toFloat(i any) (float64, error) {
	switch v := i.(type) {
	case float64:
		return v, nil
	case string:
		return strconv.ParseFloat(v, 64)
	case int:
		return float64(v), nil
	case uint:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case time.Duration:
		return v.Seconds(), nil
	}
	return 0, fmt.Errorf("can't convert %T to float", i)
}

func floatToTime(v float64) (*time.Time, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, errNaNOrInf
	}
	ns := v * 1e9
	if ns > math.MaxInt64 || ns < math.MinInt64 {
		return nil, fmt.Errorf("%v cannot be represented as a nanoseconds timestamp since it overflows int64", v)
	}
	// Prometheus keeps millisecond precision.
	t := time.UnixMilli(int64(ns) / 1e6).UTC()
	return &t, nil
}
