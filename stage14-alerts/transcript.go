package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// transcript prints the guide's evaluation loop: per evaluation, per rule,
// the value against the threshold and the state and how long it has held;
// an ALERT FIRED block when an alert fires; the notifications sent.
type transcript struct {
	mu    sync.Mutex
	w     io.Writer
	query rules.QueryFunc
	// only, if set, limits the printed rules; changesOnly prints an
	// evaluation only when one of them changed state (the demo).
	only        map[string]bool
	changesOnly bool
	last        map[string]string
	timeFormat  string
}

func newTranscript(w io.Writer, query rules.QueryFunc) *transcript {
	return &transcript{w: w, query: query, last: map[string]string{}, timeFormat: time.TimeOnly}
}

func (t *transcript) printf(format string, a ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, format, a...)
}

// threshold splits `lhs > 0.8` (or `0.8 < lhs`) into the expression and
// the threshold, for printing the value beside it.
func threshold(e parser.Expr) (lhs parser.Expr, op parser.Op, thr float64, ok bool) {
	b, isBin := parser.UnwrapParens(e).(*parser.BinaryExpr)
	if !isBin || !b.Op.IsComparisonOperator() || b.ReturnBool {
		return nil, 0, 0, false
	}
	if n, isNum := parser.UnwrapParens(b.RHS).(*parser.NumberLiteral); isNum {
		return b.LHS, b.Op, n.Val, true
	}
	if n, isNum := parser.UnwrapParens(b.LHS).(*parser.NumberLiteral); isNum {
		flip := map[parser.Op]parser.Op{parser.GTR: parser.LSS, parser.LSS: parser.GTR, parser.GTE: parser.LTE, parser.LTE: parser.GTE}
		if f, ok := flip[b.Op]; ok {
			return b.RHS, f, n.Val, true
		}
		return b.RHS, b.Op, n.Val, true
	}
	return nil, 0, 0, false
}

func holds(op parser.Op, v, thr float64) bool {
	switch op {
	case parser.GTR:
		return v > thr
	case parser.GTE:
		return v >= thr
	case parser.LSS:
		return v < thr
	case parser.LTE:
		return v <= thr
	case parser.EQLC:
		return v == thr
	case parser.NEQ:
		return v != thr
	}
	return false
}

// groupEvaluated prints one evaluation of a group (rules.ManagerOptions's
// OnGroupEval).
func (t *transcript) groupEvaluated(g *rules.Group, ts time.Time) {
	var b strings.Builder
	changed := false
	for _, r := range g.Rules() {
		if t.only != nil && !t.only[r.Name()] {
			continue
		}
		lines, state := t.describe(g, r, ts)
		key := g.Key() + "/" + r.Name()
		if prev, seen := t.last[key]; !seen || prev != state {
			changed = true
		}
		t.last[key] = state
		b.WriteString(lines)
	}
	if b.Len() == 0 || (t.changesOnly && !changed) {
		return
	}
	t.printf("\n[Evaluation at %s]\n%s", ts.Format(t.timeFormat), b.String())
}

// describe prints one rule's evaluation and returns a summary of its state.
func (t *transcript) describe(g *rules.Group, r rules.Rule, ts time.Time) (string, string) {
	var b strings.Builder
	st := r.Status()
	if st.LastError != nil {
		fmt.Fprintf(&b, "Rule %q: error: %v\n", r.Name(), st.LastError)
		return b.String(), "error"
	}
	ar, ok := r.(*rules.AlertingRule)
	if !ok {
		fmt.Fprintf(&b, "Rule %q: recorded %d series\n", r.Name(), st.Samples)
		return b.String(), "recorded"
	}
	alerts := ar.ActiveAlerts()
	if lhs, op, thr, ok := threshold(ar.Query()); ok {
		vec, err := t.query(context.Background(), lhs.String(), ts.Add(-g.QueryOffset()))
		switch {
		case err != nil:
			fmt.Fprintf(&b, "Rule %q: %s: error: %v\n", r.Name(), lhs, err)
		case len(vec) == 0:
			fmt.Fprintf(&b, "Rule %q: %s = (no data)\n", r.Name(), lhs)
		}
		for _, s := range vec {
			// "above" for > and >=, "below" for < and <=: the side of
			// the threshold the alert is about.
			side, other := "above", "below"
			if op == parser.LSS || op == parser.LTE {
				side, other = other, side
			}
			what := other + " the " + promql.FormatValue(thr) + " threshold"
			if holds(op, s.F, thr) {
				what = side + " the " + promql.FormatValue(thr) + " threshold"
				if !wasActive(alerts, s.Metric, ts) {
					what += "!"
				}
			}
			name := lhs.String()
			if s.Metric.Len() > 0 {
				name += promql.MetricString(s.Metric.Without(model.MetricName))
			}
			fmt.Fprintf(&b, "Rule %q: %s = %s (%s)\n", r.Name(), name, promql.FormatValue(s.F), what)
		}
	} else {
		fmt.Fprintf(&b, "Rule %q: %s returned %d series\n", r.Name(), ar.Query(), len(alerts))
	}
	if len(alerts) == 0 {
		b.WriteString("State: inactive\n")
	}
	var summary []string
	hold := ar.HoldDuration()
	for _, a := range alerts {
		prefix := "State"
		if len(alerts) > 1 {
			prefix = "State" + promql.MetricString(a.Labels.Without("alertname"))
		}
		held := ts.Sub(a.ActiveAt)
		switch a.State {
		case rules.StatePending:
			fmt.Fprintf(&b, "%s: pending (for: %s of %s)\n", prefix, shortDur(held), shortDur(hold))
		case rules.StateFiring:
			fmt.Fprintf(&b, "%s: firing (for: %s >= %s)\n", prefix, shortDur(held), shortDur(hold))
		}
		summary = append(summary, a.State.String())
		if a.State == rules.StateFiring && a.FiredAt.Equal(ts) {
			fmt.Fprintf(&b, "ALERT FIRED: %s\n  Labels: %s\n  Annotations: %s\n  Firing since: %s (active since %s)\n",
				r.Name(), braces(a.Labels.Map(), false), braces(a.Annotations, true),
				a.FiredAt.Format(time.DateTime), a.ActiveAt.Format(time.TimeOnly))
		}
	}
	slices.Sort(summary)
	return b.String(), strings.Join(summary, ",")
}

// wasActive: the series already had an alert before ts.
func wasActive(alerts []*rules.Alert, l model.Labels, ts time.Time) bool {
	for _, a := range alerts {
		if a.ActiveAt.Before(ts) && a.Labels.Without("alertname").Contains(l.Without(model.MetricName)) {
			return true
		}
	}
	return false
}

// braces prints {a=b, c=d} (values quoted with quote), sorted by name.
func braces(m map[string]string, quote bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		if quote {
			parts[i] = fmt.Sprintf("%s=%q", k, m[k])
		} else {
			parts[i] = k + "=" + m[k]
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// shortDur prints 15s, 30s, 5m, 5m15s, 1h, 1h30m.
func shortDur(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// notified prints one notification (DispatcherOptions.OnNotify).
func (t *transcript) notified(n notify.Notification) {
	var line string
	d := n.Data
	status := "⚠️"
	if d.Status == "resolved" {
		status = "✅"
	}
	what := notify.Subject(d)
	if name, sum := d.CommonLabels["alertname"], d.CommonAnnotations["summary"]; name != "" && sum != "" {
		what = name + " - " + sum
	}
	switch n.Integration {
	case "slack":
		line = fmt.Sprintf("Slack %s: %s %s", n.Target, status, what)
	case "pagerduty":
		action := "Triggered"
		if d.Status == "resolved" {
			action = "Resolved"
		}
		line = fmt.Sprintf("PagerDuty: %s incident %s (%s)", action, notify.PagerdutyDedupKey(d.GroupKey)[:8], what)
	case "webhook":
		line = fmt.Sprintf("Webhook %s: %s (%d alerts)", n.Target, notify.Subject(d), len(d.Alerts))
	default:
		line = fmt.Sprintf("%s: %s (%d alerts)", n.Integration, notify.Subject(d), len(d.Alerts))
	}
	if n.Err != nil {
		line += fmt.Sprintf(": FAILED after %d attempts: %v", n.Attempts, n.Err)
	}
	t.printf("\n[Sending to notification channels at %s...]\n  %s\n", n.At.Format(t.timeFormat), line)
}
