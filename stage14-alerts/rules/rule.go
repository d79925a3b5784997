package rules

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Health is a rule's state after its last evaluation, as /api/v1/rules
// reports it.
type Health string

const (
	HealthUnknown Health = "unknown"
	HealthGood    Health = "ok"
	HealthBad     Health = "err"
)

// Rule is an alerting or a recording rule.
type Rule interface {
	Name() string
	// Labels are the rule's own labels (group labels merged in).
	Labels() model.Labels
	Query() parser.Expr
	// Eval evaluates the rule at ts (its queries at ts-queryOffset) and
	// returns the samples to write.
	Eval(ctx context.Context, queryOffset time.Duration, ts time.Time, query QueryFunc, externalURL *url.URL, limit int) (promql.Vector, error)
	// Status is the rule's bookkeeping: health, last error, timings, counts.
	Status() RuleStatus
	status() *ruleStatus
}

// RuleStatus is what a rule's last evaluations did.
type RuleStatus struct {
	Health    Health
	LastError error
	// LastEvaluation is the evaluation timestamp (the group's slot time);
	// EvaluationTime how long it took on the wall clock.
	LastEvaluation time.Time
	EvaluationTime time.Duration
	// Samples is how many samples the last evaluation produced.
	Samples int
	// Evaluations and Failures count every evaluation and the failed ones.
	Evaluations, Failures int64
}

// ruleStatus is the locked RuleStatus every rule embeds.
type ruleStatus struct {
	mu sync.Mutex
	s  RuleStatus
}

func newRuleStatus() ruleStatus { return ruleStatus{s: RuleStatus{Health: HealthUnknown}} }

func (r *ruleStatus) Status() RuleStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s
}

func (r *ruleStatus) status() *ruleStatus { return r }

// record notes one evaluation's outcome.
func (r *ruleStatus) record(ts time.Time, took time.Duration, samples int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.LastEvaluation, r.s.EvaluationTime = ts, took
	r.s.Evaluations++
	r.s.LastError = err
	if err != nil {
		r.s.Health = HealthBad
		r.s.Failures++
		r.s.Samples = 0
		return
	}
	r.s.Health = HealthGood
	r.s.Samples = samples
}

// copyFrom takes over another rule's history (a reload keeps it).
func (r *ruleStatus) copyFrom(o *ruleStatus) {
	s := o.Status()
	r.mu.Lock()
	r.s = s
	r.mu.Unlock()
}
