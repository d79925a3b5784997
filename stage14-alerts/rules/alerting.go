package rules

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage14-alerts/template"
)

// The series an alerting rule writes, and their labels.
const (
	// AlertMetricName: one series per pending or firing alert, value 1, with
	// the alert's labels and alertstate="pending"|"firing".
	AlertMetricName = "ALERTS"
	// AlertForStateMetricName: one series per pending or firing alert whose
	// value is the alert's ActiveAt in Unix seconds: what a restarted
	// manager reads to resume the `for` countdown.
	AlertForStateMetricName = "ALERTS_FOR_STATE"
	AlertNameLabel          = "alertname"
	AlertStateLabel         = "alertstate"
)

// ErrDuplicateAlertLabelSet: two series of the result are the same alert once
// the name is dropped and the rule's labels applied.
var ErrDuplicateAlertLabelSet = errors.New("vector contains metrics with the same labelset after applying alert labels")

// AlertingRule turns the series its expression returns into alerts.
type AlertingRule struct {
	name           string
	expr           parser.Expr
	query          string // expr printed: what is sent to the QueryFunc
	holdDuration   time.Duration
	keepFiringFor  time.Duration
	labels         model.Labels
	annotations    map[string]string
	externalLabels map[string]string
	externalURL    string

	// restored: ALERTS and ALERTS_FOR_STATE are written only once the
	// `for` state has been restored from storage (or found absent), so a
	// restarting manager does not overwrite what it is about to read.
	restored atomic.Bool

	mu     sync.Mutex
	active map[uint64]*Alert // by the hash of the alert's labels

	ruleStatus
}

// NewAlertingRule returns a rule. externalLabels and externalURL are what
// templates see as $externalLabels and $externalURL. restored says whether
// the rule may write its series from the first evaluation (true unless a
// restore from storage will follow).
func NewAlertingRule(name string, expr parser.Expr, hold, keepFiringFor time.Duration, labels model.Labels, annotations map[string]string, externalLabels model.Labels, externalURL string, restored bool) *AlertingRule {
	r := &AlertingRule{
		name:           name,
		expr:           expr,
		query:          expr.String(),
		holdDuration:   hold,
		keepFiringFor:  keepFiringFor,
		labels:         labels,
		annotations:    annotations,
		externalLabels: externalLabels.Map(),
		externalURL:    externalURL,
		active:         map[uint64]*Alert{},
		ruleStatus:     newRuleStatus(),
	}
	r.restored.Store(restored)
	return r
}

func (r *AlertingRule) Name() string                   { return r.name }
func (r *AlertingRule) Labels() model.Labels           { return r.labels }
func (r *AlertingRule) Query() parser.Expr             { return r.expr }
func (r *AlertingRule) HoldDuration() time.Duration    { return r.holdDuration }
func (r *AlertingRule) KeepFiringFor() time.Duration   { return r.keepFiringFor }
func (r *AlertingRule) Annotations() map[string]string { return maps.Clone(r.annotations) }
func (r *AlertingRule) SetRestored(restored bool)      { r.restored.Store(restored) }
func (r *AlertingRule) Restored() bool                 { return r.restored.Load() }

// Eval runs the state machine one step at ts. It returns the ALERTS and
// ALERTS_FOR_STATE samples of every pending and firing alert (once restored).
func (r *AlertingRule) Eval(ctx context.Context, queryOffset time.Duration, ts time.Time, query QueryFunc, externalURL *url.URL, limit int) (promql.Vector, error) {
	res, err := query(ctx, r.query, ts.Add(-queryOffset))
	if err != nil {
		return nil, err
	}

	// The alerts the expression asks for now.
	var b builder
	found := make(map[uint64]*Alert, len(res))
	for _, s := range res {
		data := template.AlertData{
			Labels:         s.Metric.Map(),
			ExternalLabels: r.externalLabels,
			ExternalURL:    r.externalURL,
			Value:          s.F,
		}
		expand := func(text string) string {
			if template.IsPlain(text) {
				return text
			}
			out, err := template.NewAlert(ctx, text, r.name, data, ts, query, externalURL).Expand()
			if err != nil {
				return fmt.Sprintf("<error expanding template: %s>", err)
			}
			return out
		}
		b.reset(s.Metric)
		b.del(model.MetricName)
		for l := range r.labels.All() {
			b.set(l.Name, expand(l.Value))
		}
		b.set(AlertNameLabel, r.name)
		lset := b.labels()
		var ann map[string]string
		if len(r.annotations) > 0 {
			ann = make(map[string]string, len(r.annotations))
			for k, v := range r.annotations {
				ann[k] = expand(v)
			}
		}
		h := lset.Hash()
		if prev, dup := found[h]; dup && prev.Labels.Equal(lset) {
			return nil, ErrDuplicateAlertLabelSet
		}
		found[h] = &Alert{Labels: lset, Annotations: ann, ActiveAt: ts, State: StatePending, Value: s.F}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	for h, a := range found {
		// An alert already pending or firing keeps its state and start;
		// only its value and annotations follow the new result.
		if old, ok := r.active[h]; ok && old.State != StateInactive {
			old.Value, old.Annotations = a.Value, a.Annotations
			continue
		}
		r.active[h] = a
	}

	var (
		vec     promql.Vector
		counted int
	)
	// Visit the alerts in label order, so the samples come out sorted.
	for _, h := range r.sortedKeys() {
		a := r.active[h]
		if _, ok := found[h]; !ok {
			// The series is gone. A firing alert may be held by
			// keep_firing_for; anything else stops being active.
			keepFiring := false
			if a.State == StateFiring && r.keepFiringFor > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = ts
				}
				keepFiring = ts.Sub(a.KeepFiringSince) < r.keepFiringFor
			}
			if a.State == StatePending || (!a.ResolvedAt.IsZero() && ts.Sub(a.ResolvedAt) > resolvedRetention) {
				delete(r.active, h)
			}
			if a.State != StateInactive && !keepFiring {
				a.State = StateInactive
				a.ResolvedAt = ts
			}
			if !keepFiring {
				continue
			}
		} else {
			a.KeepFiringSince = time.Time{}
		}
		counted++
		if a.State == StatePending && ts.Sub(a.ActiveAt) >= r.holdDuration {
			a.State = StateFiring
			a.FiredAt = ts
		}
		// A reload may have raised `for` above how long a firing alert has
		// been active: it goes back to pending.
		if a.State == StateFiring && ts.Sub(a.ActiveAt) < r.holdDuration {
			a.State = StatePending
			a.FiredAt, a.LastSentAt, a.KeepFiringSince = time.Time{}, time.Time{}, time.Time{}
		}
		if r.restored.Load() {
			t := ts.Add(-queryOffset).UnixMilli()
			vec = append(vec,
				promql.Sample{Metric: r.seriesLabels(a, AlertMetricName, true), T: t, F: 1},
				promql.Sample{Metric: r.seriesLabels(a, AlertForStateMetricName, false), T: t, F: float64(a.ActiveAt.Unix())})
		}
	}
	if limit > 0 && counted > limit {
		r.active = map[uint64]*Alert{}
		return nil, fmt.Errorf("exceeded limit of %d with %d alerts", limit, counted)
	}
	return vec, nil
}

func (r *AlertingRule) sortedKeys() []uint64 {
	keys := make([]uint64, 0, len(r.active))
	for h := range r.active {
		keys = append(keys, h)
	}
	slices.SortFunc(keys, func(a, b uint64) int { return r.active[a].Labels.Compare(r.active[b].Labels) })
	return keys
}

// seriesLabels are the labels of an alert's ALERTS or ALERTS_FOR_STATE
// series: the rule's labels, overridden by the alert's, the metric name and
// alertname, and for ALERTS the state.
func (r *AlertingRule) seriesLabels(a *Alert, metric string, withState bool) model.Labels {
	var b builder
	b.reset(r.labels)
	if a != nil {
		for l := range a.Labels.All() {
			b.set(l.Name, l.Value)
		}
	}
	b.set(model.MetricName, metric)
	b.set(AlertNameLabel, r.name)
	if withState {
		b.set(AlertStateLabel, a.State.String())
	}
	return b.labels()
}

// State is the highest state of the rule's alerts (firing > pending >
// inactive); unknown before the first evaluation.
func (r *AlertingRule) State() AlertState {
	if r.Status().LastEvaluation.IsZero() {
		return StateUnknown
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := StateInactive
	for _, a := range r.active {
		st = max(st, a.State)
	}
	return st
}

// ActiveAlerts are copies of the pending and firing alerts, in label order
// (resolved ones, kept for re-sending, are left out).
func (r *AlertingRule) ActiveAlerts() []*Alert {
	var out []*Alert
	for _, a := range r.currentAlerts() {
		if a.ResolvedAt.IsZero() {
			out = append(out, a)
		}
	}
	return out
}

// currentAlerts are copies of every alert held, resolved ones included.
func (r *AlertingRule) currentAlerts() []*Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Alert, 0, len(r.active))
	for _, h := range r.sortedKeys() {
		c := *r.active[h]
		out = append(out, &c)
	}
	return out
}

// forEachActive runs f on the alerts themselves, under the rule's lock.
func (r *AlertingRule) forEachActive(f func(*Alert)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.sortedKeys() {
		f(r.active[h])
	}
}

// sendAlerts hands the alerts due to be (re)sent to notify. Each is sent
// with an end time four evaluation intervals (or resend delays) ahead, so a
// receiver that stops hearing about it resolves it on its own.
func (r *AlertingRule) sendAlerts(ctx context.Context, ts time.Time, resendDelay, interval time.Duration, notify NotifyFunc) {
	if notify == nil {
		return
	}
	var out []*Alert
	r.forEachActive(func(a *Alert) {
		if a.needsSending(ts, resendDelay) {
			a.LastSentAt = ts
			a.ValidUntil = ts.Add(4 * max(interval, resendDelay))
			c := *a
			out = append(out, &c)
		}
	})
	notify(ctx, r.query, out...)
}
