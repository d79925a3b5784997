package rules

import (
	"slices"
	"strconv"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// The shapes of Prometheus's /api/v1/rules and /api/v1/alerts "data": a
// server wraps them in {"status":"success","data":…}. Field names, types and
// omissions are Prometheus's, so Grafana and promtool read them.

// RuleDiscovery is /api/v1/rules.
type RuleDiscovery struct {
	RuleGroups []*RuleGroupInfo `json:"groups"`
}

// RuleGroupInfo is one group.
type RuleGroupInfo struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Rules hold *AlertingRuleInfo and *RecordingRuleInfo in the group's
	// order.
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// AlertingRuleInfo is an alerting rule with its alerts.
type AlertingRuleInfo struct {
	State          string            `json:"state"`
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Duration       float64           `json:"duration"`
	KeepFiringFor  float64           `json:"keepFiringFor"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	Alerts         []*AlertInfo      `json:"alerts"`
	Health         Health            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

// RecordingRuleInfo is a recording rule.
type RecordingRuleInfo struct {
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Labels         map[string]string `json:"labels"`
	Health         Health            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

// AlertDiscovery is /api/v1/alerts.
type AlertDiscovery struct {
	Alerts []*AlertInfo `json:"alerts"`
}

// AlertInfo is one pending or firing alert. Value is printed in Go's %e
// shortest form, as Prometheus does ("8.5e-01").
type AlertInfo struct {
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	State           string            `json:"state"`
	ActiveAt        *time.Time        `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time        `json:"keepFiringSince,omitempty"`
	Value           string            `json:"value"`
}

// RuleFilter selects what RuleDiscovery returns, as /api/v1/rules's
// parameters do: type=alert|record, rule_name[], rule_group[], file[],
// exclude_alerts. Empty fields select everything.
type RuleFilter struct {
	Type          string
	RuleNames     []string
	RuleGroups    []string
	Files         []string
	ExcludeAlerts bool
}

// RuleDiscovery describes the groups and rules that pass f. Groups left
// without rules by the filter are omitted, as in Prometheus.
func (m *Manager) RuleDiscovery(f RuleFilter) *RuleDiscovery {
	out := &RuleDiscovery{RuleGroups: []*RuleGroupInfo{}}
	in := func(list []string, s string) bool { return len(list) == 0 || slices.Contains(list, s) }
	for _, g := range m.Groups() {
		if !in(f.RuleGroups, g.name) || !in(f.Files, g.file) {
			continue
		}
		st := g.Status()
		gi := &RuleGroupInfo{
			Name:           g.name,
			File:           g.file,
			Rules:          []any{},
			Interval:       g.interval.Seconds(),
			Limit:          g.limit,
			EvaluationTime: st.EvaluationTime.Seconds(),
			LastEvaluation: st.LastEvaluation,
		}
		for _, r := range g.rules {
			if !in(f.RuleNames, r.Name()) {
				continue
			}
			rs := r.Status()
			lastErr := ""
			if rs.LastError != nil {
				lastErr = rs.LastError.Error()
			}
			switch r := r.(type) {
			case *AlertingRule:
				if f.Type == "record" {
					continue
				}
				ai := &AlertingRuleInfo{
					State:          r.State().String(),
					Name:           r.name,
					Query:          r.query,
					Duration:       r.holdDuration.Seconds(),
					KeepFiringFor:  r.keepFiringFor.Seconds(),
					Labels:         labelMap(r.labels),
					Annotations:    mapOrEmpty(r.annotations),
					Health:         rs.Health,
					LastError:      lastErr,
					EvaluationTime: rs.EvaluationTime.Seconds(),
					LastEvaluation: rs.LastEvaluation,
					Type:           "alerting",
				}
				if !f.ExcludeAlerts {
					ai.Alerts = alertInfos(r.ActiveAlerts())
				}
				gi.Rules = append(gi.Rules, ai)
			case *RecordingRule:
				if f.Type == "alert" {
					continue
				}
				gi.Rules = append(gi.Rules, &RecordingRuleInfo{
					Name:           r.name,
					Query:          r.query,
					Labels:         labelMap(r.labels),
					Health:         rs.Health,
					LastError:      lastErr,
					EvaluationTime: rs.EvaluationTime.Seconds(),
					LastEvaluation: rs.LastEvaluation,
					Type:           "recording",
				})
			}
		}
		if len(gi.Rules) > 0 || (len(f.RuleNames) == 0 && f.Type == "") {
			out.RuleGroups = append(out.RuleGroups, gi)
		}
	}
	return out
}

// AlertDiscovery lists every pending and firing alert.
func (m *Manager) AlertDiscovery() *AlertDiscovery {
	out := &AlertDiscovery{Alerts: []*AlertInfo{}}
	for _, r := range m.AlertingRules() {
		out.Alerts = append(out.Alerts, alertInfos(r.ActiveAlerts())...)
	}
	return out
}

func alertInfos(as []*Alert) []*AlertInfo {
	out := make([]*AlertInfo, 0, len(as))
	for _, a := range as {
		ai := &AlertInfo{
			Labels:      labelMap(a.Labels),
			Annotations: mapOrEmpty(a.Annotations),
			State:       a.State.String(),
			ActiveAt:    &a.ActiveAt,
			Value:       strconv.FormatFloat(a.Value, 'e', -1, 64),
		}
		if !a.KeepFiringSince.IsZero() {
			ai.KeepFiringSince = &a.KeepFiringSince
		}
		out = append(out, ai)
	}
	return out
}

func labelMap(l model.Labels) map[string]string { return l.Map() }

func mapOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
