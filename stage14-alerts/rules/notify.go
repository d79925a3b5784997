package rules

import (
	"context"
	"maps"

	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/template"
)

// NotifyFunc receives, after each evaluation of an alerting rule, the alerts
// due to be sent (expr is the rule's expression, for generator links).
type NotifyFunc func(ctx context.Context, expr string, alerts ...*Alert)

// Sender takes alerts in Alertmanager's shape: notify.Dispatcher (the
// course's Alertmanager, in process) and notify.Sender (a real one, over
// HTTP) both are.
type Sender interface {
	Send(alerts ...*notify.Alert)
}

// SendAlerts is the NotifyFunc that hands alerts to s as Prometheus sends
// them: starting when they fired, ending at ValidUntil while firing and at
// their resolution once resolved, linking to the expression on externalURL.
func SendAlerts(s Sender, externalURL string) NotifyFunc {
	return func(_ context.Context, expr string, alerts ...*Alert) {
		if len(alerts) == 0 {
			return
		}
		out := make([]*notify.Alert, 0, len(alerts))
		for _, a := range alerts {
			n := &notify.Alert{
				Labels:       a.Labels,
				Annotations:  maps.Clone(a.Annotations),
				StartsAt:     a.FiredAt,
				EndsAt:       a.ValidUntil,
				GeneratorURL: externalURL + template.TableLink(expr),
			}
			if !a.ResolvedAt.IsZero() {
				n.EndsAt = a.ResolvedAt
			}
			out = append(out, n)
		}
		s.Send(out...)
	}
}
