package notify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Data is one notification: what receivers render and what the webhook
// posts. Its JSON is Alertmanager's template data.
type Data struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []AlertData       `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`

	// GroupKey identifies the group ("{}/{severity="page"}:{alertname="X"}").
	GroupKey string `json:"-"`
}

// AlertData is one alert of a notification.
type AlertData struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Firing returns the firing alerts.
func (d *Data) Firing() []AlertData { return d.byStatus("firing") }

// Resolved returns the resolved alerts.
func (d *Data) Resolved() []AlertData { return d.byStatus("resolved") }

func (d *Data) byStatus(s string) []AlertData {
	var out []AlertData
	for _, a := range d.Alerts {
		if a.Status == s {
			out = append(out, a)
		}
	}
	return out
}

// newData builds the notification of alerts (sorted already) at now.
func newData(receiver, groupKey string, groupLabels model.Labels, alerts []*Alert, externalURL string, now time.Time) *Data {
	d := &Data{
		// Alertmanager quotes the receiver name as a regular expression.
		Receiver:          regexp.QuoteMeta(receiver),
		Status:            "resolved",
		GroupLabels:       groupLabels.Map(),
		CommonLabels:      map[string]string{},
		CommonAnnotations: map[string]string{},
		ExternalURL:       externalURL,
		GroupKey:          groupKey,
	}
	for _, a := range alerts {
		st := a.Status(now)
		if st == "firing" {
			d.Status = "firing"
		}
		ann := map[string]string{}
		for k, v := range a.Annotations {
			ann[k] = v
		}
		d.Alerts = append(d.Alerts, AlertData{
			Status: st, Labels: a.Labels.Map(), Annotations: ann,
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL,
			Fingerprint: a.Fingerprint().String(),
		})
	}
	if len(d.Alerts) > 0 {
		for k, v := range d.Alerts[0].Labels {
			d.CommonLabels[k] = v
		}
		for k, v := range d.Alerts[0].Annotations {
			d.CommonAnnotations[k] = v
		}
		for _, a := range d.Alerts[1:] {
			for k, v := range d.CommonLabels {
				if a.Labels[k] != v {
					delete(d.CommonLabels, k)
				}
			}
			for k, v := range d.CommonAnnotations {
				if a.Annotations[k] != v {
					delete(d.CommonAnnotations, k)
				}
			}
		}
	}
	return d
}

// sortAlerts orders alerts as Alertmanager does in a notification: by job,
// then instance (alerts with the label first), then by label set (fewer
// labels first, then name by name).
func sortAlerts(as []*Alert) {
	slices.SortStableFunc(as, func(a, b *Alert) int {
		for _, k := range []string{"job", "instance"} {
			av, bv := a.Labels.Get(k), b.Labels.Get(k)
			ah, bh := a.Labels.Has(k), b.Labels.Has(k)
			switch {
			case !ah && !bh:
				continue
			case !ah:
				return 1
			case !bh:
				return -1
			case av != bv:
				return strings.Compare(av, bv)
			}
		}
		return labelSetCompare(a.Labels, b.Labels)
	})
}

// labelSetCompare is Alertmanager's LabelSet.Before as a comparison: fewer
// labels first; then, over the names of both in order, the first name one
// of them lacks puts the other first, else the first differing value
// decides.
func labelSetCompare(a, b model.Labels) int {
	if a.Len() != b.Len() {
		return a.Len() - b.Len()
	}
	names := make([]string, 0, 2*a.Len())
	for x := range a.All() {
		names = append(names, x.Name)
	}
	for x := range b.All() {
		names = append(names, x.Name)
	}
	slices.Sort(names)
	for _, n := range names {
		switch {
		case !a.Has(n):
			return -1
		case !b.Has(n):
			return 1
		}
		if c := strings.Compare(a.Get(n), b.Get(n)); c != 0 {
			return c
		}
	}
	return 0
}

// groupKeyString formats a group's labels as Alertmanager does in group
// keys: {a="b", c="d"}, sorted by the formatted pairs.
func groupKeyString(l model.Labels) string {
	parts := make([]string, 0, l.Len())
	for x := range l.All() {
		parts = append(parts, fmt.Sprintf("%s=%q", x.Name, x.Value))
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}
