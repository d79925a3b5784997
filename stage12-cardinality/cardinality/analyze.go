package cardinality

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AnalyzerOptions are the analyzer's thresholds. The zero value is valid.
type AnalyzerOptions struct {
	// HighCardinality is the number of distinct values from which a label
	// is examined and gets a finding. Defaults to 10,000 (the point where
	// one label alone makes a metric expensive).
	HighCardinality uint64
	// EphemeralShare is the share of a label's sampled values that must
	// look generated (UUIDs, hex ids, pod hashes, IPs, timestamps) to call
	// it ephemeral. Defaults to 0.5.
	EphemeralShare float64
	// IDPathShare is the share of sampled values that must carry an id
	// inside (a path segment, a dotted or dashed part that is a number,
	// hex or UUID) to call the label's values un-grouped. Defaults to 0.5.
	IDPathShare float64
	// UnboundedRatio: a label with at least this many values per series of
	// its metric grows with the series, one new value per new series.
	// Defaults to 0.9.
	UnboundedRatio float64
	// TopContributors is how many metrics the report lists. Defaults to 10.
	TopContributors int
	// GrowthWindow is how much history the growth rate is fitted over.
	// Defaults to 24 hours.
	GrowthWindow time.Duration
}

func (o AnalyzerOptions) withDefaults() AnalyzerOptions {
	if o.HighCardinality == 0 {
		o.HighCardinality = 10000
	}
	if o.EphemeralShare <= 0 {
		o.EphemeralShare = 0.5
	}
	if o.IDPathShare <= 0 {
		o.IDPathShare = 0.5
	}
	if o.UnboundedRatio <= 0 {
		o.UnboundedRatio = 0.9
	}
	if o.TopContributors <= 0 {
		o.TopContributors = 10
	}
	if o.GrowthWindow <= 0 {
		o.GrowthWindow = 24 * time.Hour
	}
	return o
}

// Severity of a finding.
type Severity string

// The severities: a warning costs money, a critical finding will take the
// TSDB down if nothing is done.
const (
	Warning  Severity = "WARNING"
	Critical Severity = "CRITICAL"
)

// Kind of a finding.
type Kind string

// The findings the analyzer makes about a label.
const (
	// HighCardinality: many values, of a kind that can be grouped (ids
	// inside paths) or is simply too fine.
	HighCardinality Kind = "high-cardinality"
	// Ephemeral: values that identify short-lived things (pods,
	// containers, connections, moments), so series churn.
	Ephemeral Kind = "ephemeral"
	// Unbounded: one value per entity of an unbounded population (users,
	// requests, sessions): series grow with traffic, without limit.
	Unbounded Kind = "unbounded"
)

// Finding is the analyzer's verdict on one label of one metric.
type Finding struct {
	Metric, Label  string
	Kind           Kind
	Severity       Severity
	Values         uint64   // estimated distinct values
	Share          float64  // values per series of the metric
	Examples       []string // sampled values
	Message        string   // e.g. `"path" label has high cardinality`
	Recommendation string
}

// Contributor is one metric's part in the total, by the label that
// drives it.
type Contributor struct {
	Metric   string
	Label    string // the label with the most values ("" if none)
	Series   uint64 // estimated series of the metric
	Values   uint64 // estimated values of Label
	Share    float64
	Findings []Finding
}

// Report is the analysis of a tracker.
type Report struct {
	Total         uint64 // estimated distinct series
	Metrics       int
	GrowthPerHour float64 // series per hour over the growth window
	HasGrowth     bool    // false: fewer than two snapshots
	Contributors  []Contributor
	Findings      []Finding // every finding, critical first
}

// Analyze reads the tracker's estimates and history into a report.
func Analyze(t *Tracker, opts AnalyzerOptions) Report {
	opts = opts.withDefaults()
	metrics := t.Metrics()
	r := Report{Total: t.Total(), Metrics: len(metrics)}
	if h := t.History(); len(h) >= 2 {
		from := h[len(h)-1].Time.Add(-opts.GrowthWindow)
		var pts []Point
		for _, s := range h {
			if !s.Time.Before(from) {
				pts = append(pts, Point{s.Time, float64(s.Total)})
			}
		}
		if len(pts) >= 2 {
			slope, _ := linearFit(pts)
			r.GrowthPerHour, r.HasGrowth = slope, true
		}
	}
	for i, m := range metrics {
		c := Contributor{Metric: m.Name, Series: m.Series}
		if r.Total > 0 {
			c.Share = float64(m.Series) / float64(r.Total)
		}
		if len(m.Labels) > 0 {
			c.Label, c.Values = m.Labels[0].Name, m.Labels[0].Values
		}
		for _, l := range m.Labels {
			if f, ok := judge(m, l, opts); ok {
				c.Findings = append(c.Findings, f)
				r.Findings = append(r.Findings, f)
			}
		}
		if i < opts.TopContributors {
			r.Contributors = append(r.Contributors, c)
		}
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(sevRank(b.Severity), sevRank(a.Severity)), cmp.Compare(b.Values, a.Values))
	})
	return r
}

func sevRank(s Severity) int {
	if s == Critical {
		return 1
	}
	return 0
}

// unboundedName matches label names that name entities of an unbounded
// population: user_id, request_id, session, trace_id, customer, email …
var unboundedName = regexp.MustCompile(`(?i)(^|_)(user|request|req|session|trace|span|customer|order|email|account|transaction|visitor)(_?id|_?uuid)?$`)

// judge decides what, if anything, is wrong with a label.
func judge(m MetricCard, l LabelCard, o AnalyzerOptions) (Finding, bool) {
	if l.Values < o.HighCardinality {
		return Finding{}, false
	}
	f := Finding{Metric: m.Name, Label: l.Name, Values: l.Values, Examples: l.Sample}
	if m.Series > 0 {
		f.Share = float64(l.Values) / float64(m.Series)
	}
	var generated, idInside, bareID int
	for _, v := range l.Sample {
		switch {
		case looksGenerated(v):
			generated++
		case hasIDInside(v):
			idInside++
		case isNumber(v):
			bareID++
		}
	}
	n := float64(max(len(l.Sample), 1))
	switch {
	case unboundedName.MatchString(l.Name) || (float64(bareID)/n >= o.EphemeralShare && f.Share >= o.UnboundedRatio):
		f.Kind, f.Severity = Unbounded, Critical
		f.Message = fmt.Sprintf("%q creates unbounded cardinality", l.Name)
		f.Recommendation = "Remove label, use exemplars"
	case float64(generated)/n >= o.EphemeralShare:
		f.Kind, f.Severity = Ephemeral, Warning
		f.Message = fmt.Sprintf("%q is likely ephemeral", l.Name)
		f.Recommendation = "Drop it or use a stable identity"
		if strings.Contains(strings.ToLower(l.Name), "pod") {
			f.Recommendation = "Consider pod_name instead"
		}
	case float64(idInside)/n >= o.IDPathShare:
		f.Kind, f.Severity = HighCardinality, Warning
		f.Message = fmt.Sprintf("%q label has high cardinality", l.Name)
		f.Recommendation = "Use regex grouping or drop label"
	default:
		f.Kind, f.Severity = HighCardinality, Warning
		f.Message = fmt.Sprintf("%q label has high cardinality", l.Name)
		f.Recommendation = "Bucket its values or drop label"
		if f.Share >= o.UnboundedRatio {
			f.Kind, f.Severity = Unbounded, Critical
			f.Message = fmt.Sprintf("%q creates unbounded cardinality", l.Name)
			f.Recommendation = "Remove label, use exemplars"
		}
	}
	return f, true
}

var (
	uuidRe    = regexp.MustCompile(`(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$`)
	hexIDRe   = regexp.MustCompile(`(?i)^(0x)?[0-9a-f]{8,}$`)
	podNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?-([a-z0-9]{8,10}-)?[a-z0-9]{5}$`)
	rfc3339Re = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}`)
	segmentRe = regexp.MustCompile(`[/.:_=@-]`)
)

// looksGenerated reports whether a value looks machine-made for a
// short-lived thing: a UUID, a long hex id (container ids, hashes), a
// Kubernetes pod name (deployment-replicaset-suffix), an IP address
// (with or without a port), a Unix or RFC 3339 timestamp.
func looksGenerated(v string) bool {
	switch {
	case uuidRe.MatchString(v):
		return true
	case hexIDRe.MatchString(v) && strings.ContainsAny(strings.ToLower(v), "abcdef"):
		return true
	case podNameRe.MatchString(v) && strings.ContainsAny(v[strings.LastIndexByte(v, '-'):], "0123456789"):
		return true
	case isIP(v):
		return true
	case rfc3339Re.MatchString(v):
		return true
	case isTimestamp(v):
		return true
	}
	return false
}

func isIP(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	_, err := netip.ParseAddrPort(v)
	return err == nil
}

// isTimestamp: a Unix time in seconds, milliseconds or nanoseconds
// between 2001 and 2100.
func isTimestamp(v string) bool {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false
	}
	const lo, hi = 1_000_000_000, 4_102_444_800 // 2001-09-09, 2100-01-01
	switch len(v) {
	case 10:
		return n >= lo && n < hi
	case 13:
		return n >= lo*1000 && n < hi*1000
	case 19:
		return n >= lo*1_000_000_000 && n < hi*1_000_000_000
	}
	return false
}

func isNumber(v string) bool {
	_, err := strconv.ParseUint(v, 10, 64)
	return err == nil
}

// hasIDInside: the value is made of parts (split at / . : _ = @ -) and
// one of them is an id — a number of two digits or more, a UUID or a hex
// id — while the value itself is not just that id.
func hasIDInside(v string) bool {
	parts := segmentRe.Split(v, -1)
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if (len(p) >= 2 && isNumber(p)) || uuidRe.MatchString(p) ||
			(hexIDRe.MatchString(p) && strings.ContainsAny(strings.ToLower(p), "abcdef")) {
			return true
		}
	}
	return false
}
