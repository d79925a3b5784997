package rules

import (
	"fmt"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// AlertState is where one alert stands in the state machine
//
//	inactive ──expr returns the series──► pending ──held for `for`──► firing
//	    ▲                                    │                          │
//	    └──────── series gone ───────────────┘      series gone (and not held by
//	    └──────────────────────────────────────────── keep_firing_for): resolved
//
// A resolved alert stays in the rule, inactive, for 15 minutes so that its
// resolution keeps being sent (and a notifier that missed it hears of it).
type AlertState int

const (
	// StateUnknown: the rule has not been evaluated yet.
	StateUnknown AlertState = iota
	StateInactive
	StatePending
	StateFiring
)

func (s AlertState) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StateInactive:
		return "inactive"
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	}
	return fmt.Sprintf("AlertState(%d)", int(s))
}

// resolvedRetention is how long a resolved alert is kept (and re-sent).
const resolvedRetention = 15 * time.Minute

// Alert is one instance of an alerting rule: one label set the expression
// returned.
type Alert struct {
	State       AlertState
	Labels      model.Labels
	Annotations map[string]string
	// Value is the expression's value at the last evaluation that returned
	// this series.
	Value float64
	// ActiveAt is when the series first appeared (the start of pending);
	// FiredAt when it turned firing; ResolvedAt when it went away (zero
	// while active).
	ActiveAt, FiredAt, ResolvedAt time.Time
	// LastSentAt is when it was last handed to the notifier; ValidUntil the
	// end time sent with it, after which a receiver may consider it resolved.
	LastSentAt, ValidUntil time.Time
	// KeepFiringSince is when the series went away while keep_firing_for
	// holds the alert firing.
	KeepFiringSince time.Time
}

// needsSending: firing alerts are re-sent every resendDelay, and once more
// when they resolve; pending ones are not sent.
func (a *Alert) needsSending(ts time.Time, resendDelay time.Duration) bool {
	if a.State == StatePending {
		return false
	}
	if a.ResolvedAt.After(a.LastSentAt) {
		return true
	}
	return a.LastSentAt.Add(resendDelay).Before(ts)
}
