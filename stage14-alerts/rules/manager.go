// Package rules evaluates Prometheus recording and alerting rules: groups of
// rules from rule files (package rulefmt), each group on its own interval,
// its rules in order at the same timestamp, against any QueryFunc (stage10's
// engine over a stage06 DB, or a remote server's query API). Recording rules
// append their results; alerting rules run the pending → firing → resolved
// state machine with `for` and `keep_firing_for`, write ALERTS and
// ALERTS_FOR_STATE as Prometheus does, restore their countdowns after a
// restart, and hand alerts to a notifier. The Manager runs it all on a Clock
// (package clock), so a simulated clock drives hours of evaluations in a test.
package rules

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/rulefmt"
)

// ManagerOptions configure a Manager. Zero values mean the defaults noted.
type ManagerOptions struct {
	// Query evaluates the rules' expressions (required).
	Query QueryFunc
	// Appendable receives rule results, ALERTS and ALERTS_FOR_STATE; nil
	// writes nothing.
	Appendable Appendable
	// Queryable is read for ALERTS_FOR_STATE when the manager starts; nil:
	// nothing is restored.
	Queryable Queryable
	// Notify receives the alerts to send after each alerting rule's
	// evaluation; nil: none are sent.
	Notify NotifyFunc
	// Clock schedules evaluations. Defaults to the wall clock.
	Clock clock.Clock
	// ExternalLabels and ExternalURL are what templates see.
	ExternalLabels model.Labels
	ExternalURL    *url.URL
	// DefaultInterval is the interval of groups that set none (Prometheus's
	// global evaluation_interval). Defaults to 1m.
	DefaultInterval time.Duration
	// OutageTolerance is how far back a restart looks for ALERTS_FOR_STATE.
	// Defaults to 1h.
	OutageTolerance time.Duration
	// ForGracePeriod is the least time a restored alert still waits before
	// firing. Defaults to 10m.
	ForGracePeriod time.Duration
	// ResendDelay is how often a firing alert is re-sent. Defaults to 1m.
	ResendDelay time.Duration
	// OnGroupEval, if set, is called after each scheduled evaluation of a
	// group, on the evaluating goroutine (a transcript, metrics). It must
	// not call Update, Reload or Stop, which wait for that evaluation.
	OnGroupEval func(g *Group, ts time.Time)
}

// ErrNoQuery: ManagerOptions.Query is nil.
var ErrNoQuery = errors.New("rules: ManagerOptions.Query is required")

// Manager loads rule files into groups and evaluates them.
type Manager struct {
	opts ManagerOptions

	mu       sync.Mutex
	groups   []*Group // sorted by file, then by name
	runs     map[*Group]*groupRun
	files    []string
	running  bool
	restored bool // an Update has happened: later groups do not restore
	ctx      context.Context
	cancel   context.CancelFunc
	timers   []clock.Timer // stale marking of removed groups
}

// groupRun is one group's schedule while the manager runs.
type groupRun struct {
	g       *Group
	evalMu  sync.Mutex // held during an evaluation
	stopped bool       // under Manager.mu
	timer   clock.Timer
	last    time.Time
}

// NewManager returns a stopped manager without groups.
func NewManager(opts ManagerOptions) (*Manager, error) {
	if opts.Query == nil {
		return nil, ErrNoQuery
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.DefaultInterval <= 0 {
		opts.DefaultInterval = time.Minute
	}
	if opts.OutageTolerance <= 0 {
		opts.OutageTolerance = time.Hour
	}
	if opts.ForGracePeriod <= 0 {
		opts.ForGracePeriod = 10 * time.Minute
	}
	if opts.ResendDelay <= 0 {
		opts.ResendDelay = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, runs: map[*Group]*groupRun{}, ctx: ctx, cancel: cancel}, nil
}

// LoadGroups reads rule files into new groups (not yet part of the
// manager). Files that fail validation give every error, file and line
// included, and no groups.
func (m *Manager) LoadGroups(files ...string) ([]*Group, []error) {
	var (
		groups []*Group
		errs   []error
	)
	m.mu.Lock()
	restore := !m.restored
	m.mu.Unlock()
	for _, f := range files {
		rgs, ferrs := rulefmt.ParseFile(f, false)
		if ferrs != nil {
			errs = append(errs, ferrs...)
			continue
		}
		for _, rg := range rgs.Groups {
			g, err := m.newGroup(f, rg, restore)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f, err))
				continue
			}
			groups = append(groups, g)
		}
	}
	if errs != nil {
		return nil, errs
	}
	slices.SortStableFunc(groups, func(a, b *Group) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return groups, nil
}

// NewGroup builds a group from a parsed rule group; file names it in the API.
func (m *Manager) NewGroup(file string, rg rulefmt.RuleGroup) (*Group, error) {
	m.mu.Lock()
	restore := !m.restored
	m.mu.Unlock()
	return m.newGroup(file, rg, restore)
}

func (m *Manager) newGroup(file string, rg rulefmt.RuleGroup, restore bool) (*Group, error) {
	iv := time.Duration(rg.Interval)
	if iv <= 0 {
		iv = m.opts.DefaultInterval
	}
	g := &Group{
		name:          rg.Name,
		file:          file,
		interval:      iv,
		limit:         rg.Limit,
		opts:          &m.opts,
		shouldRestore: restore,
	}
	if rg.QueryOffset != nil {
		g.queryOffset = time.Duration(*rg.QueryOffset)
	}
	for _, r := range rg.Rules {
		expr := r.ParsedExpr()
		if expr == nil {
			var err error
			if expr, err = parser.ParseExpr(r.Expr); err != nil {
				return nil, err
			}
		}
		labels, err := FromMaps(rg.Labels, r.Labels)
		if err != nil {
			return nil, err
		}
		if r.Alert != "" {
			g.rules = append(g.rules, NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
				labels, r.Annotations, m.opts.ExternalLabels, m.externalURL(), !restore))
		} else {
			g.rules = append(g.rules, NewRecordingRule(r.Record, expr, labels))
		}
	}
	g.seriesInPrevEval = make([]map[string]model.Labels, len(g.rules))
	return g, nil
}

func (m *Manager) externalURL() string {
	if m.opts.ExternalURL == nil {
		return ""
	}
	return m.opts.ExternalURL.String()
}

// Update replaces the manager's groups with those of files (a reload). On
// any error the old groups stay. A group with the same file and name as an
// old one takes over its state (active alerts, stale tracking, counters);
// series of removed rules are marked stale. A running manager keeps running:
// new groups start at their next slot.
func (m *Manager) Update(files ...string) error {
	groups, errs := m.LoadGroups(files...)
	if errs != nil {
		return fmt.Errorf("rules: loading %d file(s): %w", len(files), errors.Join(errs...))
	}
	m.setGroups(groups)
	m.mu.Lock()
	m.files = slices.Clone(files)
	m.mu.Unlock()
	return nil
}

// SetGroups replaces the groups with ones built by the caller (NewGroup),
// as Update does with files.
func (m *Manager) SetGroups(groups ...*Group) { m.setGroups(groups) }

func (m *Manager) setGroups(groups []*Group) {
	m.mu.Lock()
	old := m.groups
	oldByKey := map[string]*Group{}
	for _, g := range old {
		oldByKey[g.Key()] = g
	}
	// Stop the old groups' schedules first, so no evaluation runs while
	// state moves.
	var waits []*groupRun
	for _, g := range old {
		if r := m.runs[g]; r != nil {
			r.stopped = true
			if r.timer != nil {
				r.timer.Stop()
			}
			waits = append(waits, r)
			delete(m.runs, g)
		}
	}
	m.mu.Unlock()
	for _, r := range waits {
		r.evalMu.Lock() // an evaluation in flight finishes first
		r.evalMu.Unlock()
	}

	for _, g := range groups {
		if o := oldByKey[g.Key()]; o != nil {
			g.CopyState(o)
			delete(oldByKey, g.Key())
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.restored = true
	m.groups = groups
	// Removed groups: their series end after two intervals, time enough
	// for a renamed rule to write the same series first.
	for _, o := range oldByKey {
		var series []model.Labels
		for _, w := range o.seriesInPrevEval {
			for _, l := range w {
				series = append(series, l)
			}
		}
		series = append(series, o.staleSeries...)
		if len(series) == 0 || !m.running {
			continue
		}
		o := o
		m.timers = append(m.timers, m.opts.Clock.AfterFunc(2*o.interval, func() {
			o.markStale(m.ctx, m.opts.Clock.Now(), series)
		}))
	}
	if m.running {
		for _, g := range groups {
			m.startGroup(g)
		}
	}
}

// Start begins evaluating every group at its slots: the first evaluation is
// at the group's next slot. Groups that restore state do so after their
// second evaluation, once recording rules they depend on have caught up.
func (m *Manager) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return
	}
	m.running = true
	m.restored = true
	for _, g := range m.groups {
		m.startGroup(g)
	}
}

// startGroup schedules g's first evaluation; m.mu is held.
func (m *Manager) startGroup(g *Group) {
	r := &groupRun{g: g}
	m.runs[g] = r
	now := m.opts.Clock.Now()
	first := g.EvalTimestamp(now).Add(g.interval)
	r.timer = m.opts.Clock.AfterFunc(first.Sub(now), func() { m.tick(r) })
}

// tick evaluates the group at its latest slot and schedules the next one.
func (m *Manager) tick(r *groupRun) {
	r.evalMu.Lock()
	m.mu.Lock()
	stopped := r.stopped
	m.mu.Unlock()
	if stopped {
		r.evalMu.Unlock()
		return
	}
	g := r.g
	now := m.opts.Clock.Now()
	ts := g.EvalTimestamp(now)
	if !r.last.IsZero() {
		if missed := int64(ts.Sub(r.last)/g.interval) - 1; missed > 0 {
			g.mu.Lock()
			g.status.Missed += missed
			g.mu.Unlock()
		}
	}
	r.last = ts
	g.Eval(m.ctx, ts)
	if g.shouldRestore && g.evals >= 2 {
		// Errors leave the alerts as evaluated: they start over, which is
		// what a manager without history does anyway.
		_ = g.RestoreForState(m.ctx, m.opts.Clock.Now())
	}
	if m.opts.OnGroupEval != nil {
		m.opts.OnGroupEval(g, ts)
	}
	r.evalMu.Unlock()

	m.mu.Lock()
	defer m.mu.Unlock()
	if r.stopped {
		return
	}
	next := ts.Add(g.interval)
	r.timer = m.opts.Clock.AfterFunc(next.Sub(m.opts.Clock.Now()), func() { m.tick(r) })
}

// Stop ends all evaluation, waiting for any in flight. A stopped manager
// cannot be started again.
func (m *Manager) Stop() {
	m.mu.Lock()
	m.running = false
	runs := make([]*groupRun, 0, len(m.runs))
	for g, r := range m.runs {
		r.stopped = true
		if r.timer != nil {
			r.timer.Stop()
		}
		runs = append(runs, r)
		delete(m.runs, g)
	}
	for _, t := range m.timers {
		t.Stop()
	}
	m.timers = nil
	m.mu.Unlock()
	m.cancel()
	for _, r := range runs {
		r.evalMu.Lock()
		r.evalMu.Unlock()
	}
}

// Reload re-reads the files of the last Update.
func (m *Manager) Reload() error {
	m.mu.Lock()
	files := slices.Clone(m.files)
	m.mu.Unlock()
	return m.Update(files...)
}

// Groups returns the groups, sorted by file and name.
func (m *Manager) Groups() []*Group {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.groups)
}

// Rules returns every rule of every group, in order.
func (m *Manager) Rules() []Rule {
	var out []Rule
	for _, g := range m.Groups() {
		out = append(out, g.rules...)
	}
	return out
}

// AlertingRules returns every alerting rule, in order.
func (m *Manager) AlertingRules() []*AlertingRule {
	var out []*AlertingRule
	for _, g := range m.Groups() {
		out = append(out, g.AlertingRules()...)
	}
	return out
}
