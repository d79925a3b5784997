package rules

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
)

// Group is a list of rules evaluated in order, every Interval, at the same
// timestamp: a recording rule's result is written and committed before the
// next rule runs, so the rules after it read it.
type Group struct {
	name, file  string
	interval    time.Duration
	queryOffset time.Duration
	limit       int
	rules       []Rule
	opts        *ManagerOptions

	// Evaluation state, touched only by the group's evaluations (one at a
	// time) and by CopyState before the group starts.
	seriesInPrevEval []map[string]model.Labels // per rule: what it wrote last time
	staleSeries      []model.Labels            // of removed rules, to mark stale
	shouldRestore    bool
	evals            int // evaluations since start (restore waits for the second)

	mu     sync.Mutex
	status GroupStatus
}

// GroupStatus is what a group's evaluations did.
type GroupStatus struct {
	// LastEvaluation is the timestamp of the last evaluation (a slot time);
	// EvaluationTime how long it took on the wall clock.
	LastEvaluation time.Time
	EvaluationTime time.Duration
	// Samples is how many samples the last evaluation wrote (all rules).
	Samples int
	// Evaluations counts group evaluations; RuleFailures failed rule
	// evaluations; Missed the slots skipped because an evaluation overran.
	Evaluations, RuleFailures, Missed int64
}

func (g *Group) Name() string               { return g.name }
func (g *Group) File() string               { return g.file }
func (g *Group) Interval() time.Duration    { return g.interval }
func (g *Group) QueryOffset() time.Duration { return g.queryOffset }
func (g *Group) Limit() int                 { return g.limit }
func (g *Group) Rules() []Rule              { return g.rules }
func (g *Group) Key() string                { return GroupKey(g.file, g.name) }

// Status returns the group's counters.
func (g *Group) Status() GroupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status
}

// GroupKey identifies a group across reloads.
func GroupKey(file, name string) string { return file + ";" + name }

// AlertingRules are the group's alerting rules.
func (g *Group) AlertingRules() []*AlertingRule {
	var out []*AlertingRule
	for _, r := range g.rules {
		if ar, ok := r.(*AlertingRule); ok {
			out = append(out, ar)
		}
	}
	return out
}

// hash places the group in its interval: groups are spread over the
// interval by this offset instead of all evaluating at the same instant.
func (g *Group) hash() uint64 {
	return model.MustFromStrings("name", g.name, "file", g.file).Hash()
}

// EvalTimestamp is the group's latest evaluation slot at or before now.
// Slots are offset from multiples of the interval (since the epoch) by
// hash % interval, so evaluation times do not depend on when the manager
// started: a restart, or a second manager with the same rules, evaluates at
// the same timestamps.
func (g *Group) EvalTimestamp(now time.Time) time.Time {
	iv := int64(g.interval)
	offset := int64(g.hash() % uint64(iv))
	adj := now.UnixNano() - offset
	base := adj - ((adj%iv)+iv)%iv
	return time.Unix(0, base+offset).UTC()
}

// Eval evaluates every rule at ts, writes what they return (and stale
// markers for series they no longer return), and sends the alerts due.
// A started manager calls it on the group's schedule; call it directly only
// for groups no started manager runs (unit tests, `eval`): evaluations of
// one group must not overlap.
func (g *Group) Eval(ctx context.Context, ts time.Time) {
	start := time.Now()
	var samples, failures int
	for i, r := range g.rules {
		if ctx.Err() != nil {
			return
		}
		n, err := g.evalRule(ctx, i, r, ts)
		samples += n
		if err != nil {
			failures++
		}
	}
	g.markStale(ctx, ts, g.staleSeries)
	g.staleSeries = nil
	g.evals++
	g.mu.Lock()
	g.status.LastEvaluation = ts
	g.status.EvaluationTime = time.Since(start)
	g.status.Samples = samples
	g.status.Evaluations++
	g.status.RuleFailures += int64(failures)
	g.mu.Unlock()
}

func (g *Group) evalRule(ctx context.Context, i int, r Rule, ts time.Time) (n int, err error) {
	start := time.Now()
	defer func() { r.status().record(ts, time.Since(start), n, err) }()

	vec, err := r.Eval(ctx, g.queryOffset, ts, g.opts.Query, g.opts.ExternalURL, g.limit)
	if err != nil {
		return 0, err
	}
	if ar, ok := r.(*AlertingRule); ok {
		ar.sendAlerts(ctx, ts, g.opts.ResendDelay, g.interval, g.opts.Notify)
	}
	if g.opts.Appendable == nil {
		return len(vec), nil
	}
	app := g.opts.Appendable.Appender(ctx)
	written := make(map[string]model.Labels, len(vec))
	var appendErr error
	for _, s := range vec {
		if err := app.Append(s.Metric, s.T, s.F); err != nil {
			// A refused sample fails the rule but not the batch.
			appendErr = err
			continue
		}
		written[s.Metric.String()] = s.Metric
	}
	// Series the rule wrote last time and not now end with a stale marker,
	// so queries stop seeing them at once instead of for 5 minutes.
	staleT := ts.Add(-g.queryOffset).UnixMilli()
	for k, l := range g.seriesInPrevEval[i] {
		if _, ok := written[k]; !ok {
			// Refusals are expected when another rule now writes the
			// series; they are not the rule's failure.
			_ = app.Append(l, staleT, promql.StaleNaN)
		}
	}
	if err := app.Commit(); err != nil {
		return 0, err
	}
	g.seriesInPrevEval[i] = written
	return len(vec), appendErr
}

// markStale writes stale markers for the series of rules a reload removed.
func (g *Group) markStale(ctx context.Context, ts time.Time, series []model.Labels) {
	if len(series) == 0 || g.opts.Appendable == nil {
		return
	}
	app := g.opts.Appendable.Appender(ctx)
	t := ts.Add(-g.queryOffset).UnixMilli()
	for _, l := range series {
		_ = app.Append(l, t, promql.StaleNaN)
	}
	_ = app.Commit()
}

// RestoreForState resumes the `for` countdown of the alerts pending after a
// restart from their ALERTS_FOR_STATE series (last value: when the alert
// became active; last timestamp: when the old manager last wrote it).
//
//   - not found within OutageTolerance before ts, or ended by a stale marker:
//     the alert starts over;
//   - it had already fired: its old ActiveAt is kept, so the next
//     evaluation fires it again at once;
//   - `for` shorter than ForGracePeriod: it starts over;
//   - less than ForGracePeriod left: it is given ForGracePeriod from ts, so
//     a restart never fires an alert that had no time to be looked at;
//   - otherwise the outage is added to its ActiveAt: the time it was seen
//     pending counts, the time nobody watched does not.
//
// Rules are marked restored afterwards, so they write their series again.
func (g *Group) RestoreForState(ctx context.Context, ts time.Time) error {
	defer func() {
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
		g.shouldRestore = false
	}()
	if g.opts.Queryable == nil {
		return nil
	}
	q, err := g.opts.Queryable.Querier(ts.Add(-g.opts.OutageTolerance).UnixMilli(), ts.UnixMilli())
	if err != nil {
		return err
	}
	var errs []error
	for _, ar := range g.AlertingRules() {
		if err := g.restoreRule(ctx, q, ar, ts); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, q.Close())
	return errors.Join(errs...)
}

func (g *Group) restoreRule(ctx context.Context, q Querier, ar *AlertingRule, ts time.Time) error {
	// Match every ALERTS_FOR_STATE series of the rule: its name, and the
	// rule labels that are not templates (those vary per alert).
	var ms []*index.Matcher
	for l := range ar.seriesLabels(nil, AlertForStateMetricName, false).All() {
		if containsTemplate(l.Value) {
			continue
		}
		m, err := index.NewMatcher(index.MatchEqual, l.Name, l.Value)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	type last struct {
		t int64
		v float64
	}
	found := map[string]last{}
	ss := q.Select(ctx, ms...)
	for ss.Next() {
		s := ss.At()
		var l last
		it := s.Iterator()
		seen := false
		for it.Next() {
			l.t, l.v = it.At()
			seen = true
		}
		if err := it.Err(); err != nil {
			return err
		}
		if seen {
			found[s.Labels().Without(model.MetricName).String()] = l
		}
	}
	if err := ss.Err(); err != nil {
		return err
	}
	if len(found) == 0 {
		return nil
	}
	hold := ar.HoldDuration()
	ar.forEachActive(func(a *Alert) {
		l, ok := found[a.Labels.String()]
		if !ok || promql.IsStaleNaN(l.v) {
			return
		}
		downAt := time.Unix(l.t/1000, 0).UTC()
		activeAt := time.Unix(int64(l.v), 0).UTC()
		remaining := hold - downAt.Sub(activeAt)
		switch {
		case remaining <= 0:
			// It was firing: keep ActiveAt, it fires at the next evaluation.
		case hold < g.opts.ForGracePeriod:
			return
		case remaining < g.opts.ForGracePeriod:
			activeAt = ts.Add(g.opts.ForGracePeriod).Add(-hold)
		default:
			activeAt = activeAt.Add(ts.Sub(downAt))
		}
		a.ActiveAt = activeAt
	})
	return nil
}

func containsTemplate(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && s[i+1] == '{' {
			return true
		}
	}
	return false
}

// CopyState takes over what the same rules of an older group learned: alerts
// and their states, the series last written (for stale markers), counters.
// Rules are matched by name and labels, the n-th duplicate with the n-th.
// The series of old rules with no match are marked stale at the next
// evaluation.
func (g *Group) CopyState(from *Group) {
	g.mu.Lock()
	g.status = from.Status()
	g.mu.Unlock()
	g.evals = from.evals
	key := func(r Rule) string { return r.Name() + r.Labels().String() }
	byKey := map[string][]int{}
	for i, r := range from.rules {
		byKey[key(r)] = append(byKey[key(r)], i)
	}
	used := make([]bool, len(from.rules))
	for i, r := range g.rules {
		idx := byKey[key(r)]
		if len(idx) == 0 {
			continue
		}
		j := idx[0]
		byKey[key(r)] = idx[1:]
		used[j] = true
		old := from.rules[j]
		if _, same := old.(*AlertingRule); same != isAlerting(r) {
			continue
		}
		g.seriesInPrevEval[i] = from.seriesInPrevEval[j]
		r.status().copyFrom(old.status())
		if ar, ok := r.(*AlertingRule); ok {
			oar := old.(*AlertingRule)
			oar.mu.Lock()
			ar.mu.Lock()
			for h, a := range oar.active {
				c := *a
				ar.active[h] = &c
			}
			ar.mu.Unlock()
			oar.mu.Unlock()
			ar.SetRestored(oar.Restored())
		}
	}
	for j, ok := range used {
		if !ok {
			for _, l := range from.seriesInPrevEval[j] {
				g.staleSeries = append(g.staleSeries, l)
			}
		}
	}
	g.staleSeries = append(g.staleSeries, from.staleSeries...)
	g.shouldRestore = g.shouldRestore && from.shouldRestore
}

func isAlerting(r Rule) bool { _, ok := r.(*AlertingRule); return ok }
