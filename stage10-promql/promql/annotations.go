package promql

import (
	"fmt"
	"time"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// An Annotation is a warning or an info about a query that still has a
// result: Prometheus's "warnings" and "infos" beside "data" in an API
// answer, which Grafana shows over the panel. A warning says the result
// may be wrong (a quantile outside [0, 1]); an info says something looks
// odd (rate over a metric whose name says it is not a counter).
//
// The texts are Prometheus's, word for word, so that tools matching them
// (and Prometheus's own test suite) see the same thing.
type Annotation struct {
	Warning bool // else an info
	// Text is the message without its position: "PromQL info: metric
	// might not be a counter, name does not end in
	// _total/_sum/_count/_bucket: \"foo\"". Annotations with the same Text
	// are one annotation.
	Text string
	// Pos is the part of the query it is about.
	Pos parser.PosRange
	// mono is histogram_quantile's monotonicity fix, whose message also
	// says over which buckets, samples and times it happened.
	mono *monotonicity
	// count is how many times a counted annotation (the start time
	// overlap warning) happened; annotations with the same text add up.
	count int
}

// monotonicity is what NewHistogramQuantileForcedMonotonicityInfo
// collects: the span of times and bucket bounds fixed, the largest fix.
type monotonicity struct {
	minT, maxT           int64
	minBucket, maxBucket float64
	maxDiff              float64
	count                int
}

// Message is the annotation as Prometheus's API shows it: the text and
// the line:column of its position in query.
func (a Annotation) Message(query string) string {
	line, col := a.Pos.LineCol(query)
	if m := a.mono; m != nil {
		return fmt.Sprintf("%s, from buckets %g to %g, with a max diff of %.2g, over %d samples from %s to %s (%d:%d)",
			a.Text, m.minBucket, m.maxBucket, m.maxDiff, m.count, rfc3339(m.minT), rfc3339(m.maxT), line, col)
	}
	return fmt.Sprintf("%s%s (%d:%d)", a.Text, annotationCount(a.count), line, col)
}

func rfc3339(ms int64) string { return time.Unix(ms/1000, 0).UTC().Format(time.RFC3339) }

// Annotations are a query's annotations, each text once, in the order
// first found.
type Annotations []Annotation

// annotationSet is a query's annotations as they are found: a list in
// the order found, and where each text is in it.
type annotationSet struct {
	list   Annotations
	byText map[string]int
}

// add records a, or, if one with the same text is there, takes its
// place as Prometheus does (its annotations are a map keyed by text), or
// merges the monotonicity spans.
func (as *annotationSet) add(a Annotation) {
	i, ok := as.byText[a.Text]
	if !ok {
		if as.byText == nil {
			as.byText = map[string]int{}
		}
		as.byText[a.Text] = len(as.list)
		as.list = append(as.list, a)
		return
	}
	old := &as.list[i]
	if old.mono != nil && a.mono != nil {
		m := *old.mono
		m.minT, m.maxT = min(m.minT, a.mono.minT), max(m.maxT, a.mono.maxT)
		m.minBucket, m.maxBucket = min(m.minBucket, a.mono.minBucket), max(m.maxBucket, a.mono.maxBucket)
		m.maxDiff = max(m.maxDiff, a.mono.maxDiff)
		m.count += a.mono.count
		a.mono = &m
	}
	a.count += old.count
	*old = a
}

// Strings splits the annotations into warnings and infos as Prometheus's
// API answers them, with positions in query.
func (as Annotations) Strings(query string) (warnings, infos []string) {
	for _, a := range as {
		if a.Warning {
			warnings = append(warnings, a.Message(query))
		} else {
			infos = append(infos, a.Message(query))
		}
	}
	return warnings, infos
}

func warning(pos parser.PosRange, format string, args ...any) Annotation {
	return Annotation{Warning: true, Text: "PromQL warning: " + fmt.Sprintf(format, args...), Pos: pos}
}

func info(pos parser.PosRange, format string, args ...any) Annotation {
	return Annotation{Text: "PromQL info: " + fmt.Sprintf(format, args...), Pos: pos}
}

// forMetric appends Prometheus's " for metric name %q" when the name is
// known.
func forMetric(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" for metric name %q", name)
}

// The annotations the engine produces, with Prometheus's texts.

func nonCounterInfo(name string, pos parser.PosRange) Annotation {
	return info(pos, "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: %q", name)
}

func invalidQuantileWarning(q float64, pos parser.PosRange) Annotation {
	return warning(pos, "quantile value should be between 0 and 1, got %g", q)
}

func invalidRatioWarning(r, to float64, pos parser.PosRange) Annotation {
	return warning(pos, "ratio value should be between -1 and 1, got %g, capping to %g", r, to)
}

func badBucketLabelWarning(name, le string, pos parser.PosRange) Annotation {
	return warning(pos, "bucket label %q is missing or has a malformed value of %q%s", "le", le, forMetric(name))
}

func monotonicityInfo(name string, pos parser.PosRange, t int64, minBucket, maxBucket, maxDiff float64) Annotation {
	a := info(pos, "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)%s", forMetric(name))
	a.mono = &monotonicity{minT: t, maxT: t, minBucket: minBucket, maxBucket: maxBucket, maxDiff: maxDiff, count: 1}
	return a
}

func sortInRangeQueryWarning(pos parser.PosRange) Annotation {
	return warning(pos, "sort is ineffective for range queries since results are always ordered by labels")
}

func invalidIntegralStrategyWarning(s float64, pos parser.PosRange) Annotation {
	return warning(pos, "strategy should be 0, 1, or 2 (default), using 2, got %g", s)
}
