// Package notify is an Alertmanager of the course's own, and a way to a real
// one. Alerts arrive (from the rule manager, or over HTTP as Prometheus sends
// them); a routing tree picks the receivers; alerts with the same values of a
// route's group_by labels are grouped, and each group is flushed to its
// receiver first after group_wait, then every group_interval, a notification
// going out only when the group changed or repeat_interval passed (a
// notification log remembers what each receiver was told); inhibited and
// silenced alerts are left out. Receivers: webhook (Alertmanager's payload,
// version 4), Slack incoming webhook, PagerDuty Events API v2, stdout; with
// retries and backoff. Sender posts alerts to a real Alertmanager instead, as
// Prometheus's notifier does.
//
// The configuration is Alertmanager's YAML for the parts implemented
// (config.go lists them).
package notify

import (
	"fmt"
	"hash/fnv"
	"maps"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Alert is an alert as Alertmanager receives it: identified by its labels,
// firing from StartsAt until EndsAt (zero: until further notice).
type Alert struct {
	Labels       model.Labels
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	// UpdatedAt is when the dispatcher last received it.
	UpdatedAt time.Time
}

// Name is the alertname label.
func (a *Alert) Name() string { return a.Labels.Get("alertname") }

// Resolved reports whether the alert has ended by t.
func (a *Alert) Resolved(t time.Time) bool { return !a.EndsAt.IsZero() && !a.EndsAt.After(t) }

// Status is "resolved" or "firing" at t.
func (a *Alert) Status(t time.Time) string {
	if a.Resolved(t) {
		return "resolved"
	}
	return "firing"
}

// Fingerprint identifies the alert by its labels.
func (a *Alert) Fingerprint() Fingerprint { return FingerprintOf(a.Labels) }

// clone copies the alert (its annotations map included).
func (a *Alert) clone() *Alert {
	c := *a
	c.Annotations = maps.Clone(a.Annotations)
	return &c
}

// merge combines an update o of the same alert with a: the earliest start;
// the end of the update unless a's is later and o is still firing, or both
// are resolved and a's resolution is the later one.
func (a *Alert) merge(o *Alert) *Alert {
	if o.UpdatedAt.Before(a.UpdatedAt) {
		return o.merge(a)
	}
	res := o.clone()
	if a.StartsAt.Before(o.StartsAt) {
		res.StartsAt = a.StartsAt
	}
	oResolved := !o.EndsAt.IsZero() && !o.EndsAt.After(o.UpdatedAt)
	aResolved := !a.EndsAt.IsZero() && !a.EndsAt.After(a.UpdatedAt)
	if oResolved {
		if aResolved && a.EndsAt.After(o.EndsAt) {
			res.EndsAt = a.EndsAt
		}
	} else if a.EndsAt.After(o.EndsAt) {
		res.EndsAt = a.EndsAt
	}
	return res
}

// Fingerprint is Alertmanager's identity of a label set: FNV-1a 64 over the
// labels in name order, each as name, 0xff, value, 0xff. Printed in 16 hex
// digits it is the "fingerprint" of webhook payloads and of Alertmanager's
// API, so the same alert has the same fingerprint here and there.
type Fingerprint uint64

// FingerprintOf hashes a label set.
func FingerprintOf(l model.Labels) Fingerprint {
	h := fnv.New64a()
	sep := []byte{0xff}
	for x := range l.All() {
		h.Write([]byte(x.Name))
		h.Write(sep)
		h.Write([]byte(x.Value))
		h.Write(sep)
	}
	return Fingerprint(h.Sum64())
}

func (f Fingerprint) String() string { return fmt.Sprintf("%016x", uint64(f)) }
