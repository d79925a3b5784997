package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage14-alerts/clock"
)

// DispatcherOptions configure a Dispatcher. Zero values mean the defaults
// noted.
type DispatcherOptions struct {
	// Clock times group_wait, group_interval and repeat_interval. Defaults
	// to the wall clock.
	Clock clock.Clock
	// Silences mute alerts; nil: none.
	Silences *Silences
	// Log is the notification log; nil: a new one in memory.
	Log *NotificationLog
	// ExternalURL is the notifier's URL in notifications.
	ExternalURL string
	// HTTPClient sends to webhooks, Slack and PagerDuty. Defaults to a
	// client with a 30s timeout.
	HTTPClient *http.Client
	// Stdout is where stdout receivers print. Defaults to os.Stdout.
	Stdout io.Writer
	// RetryBackoff is the wait before the first retry of a failed
	// notification, doubling up to RetryMaxBackoff; retries stop at the
	// group's next flush. Default 500ms and 30s.
	RetryBackoff, RetryMaxBackoff time.Duration
	// Sleep waits between retries. Defaults to a real sleep that ends early
	// when the flush's deadline passes; tests record the delays instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnNotify, if set, is told of each notification sent or failed.
	OnNotify func(Notification)
}

// Notification is one delivery attempt's outcome, for OnNotify.
type Notification struct {
	Receiver    string // receiver name
	Integration string // webhook, slack, pagerduty, stdout
	// Target is where it went: the webhook URL, the Slack channel, the
	// PagerDuty events URL; "" for stdout.
	Target   string
	Data     *Data
	Attempts int
	Err      error
	At       time.Time
}

// Dispatcher is the notifier: it takes alerts, routes and groups them,
// and flushes each group to its receiver on the group's schedule.
type Dispatcher struct {
	opts         DispatcherOptions
	route        *Route
	integrations map[string][]Integration
	inhibit      []*inhibitRule
	resolve      time.Duration

	mu      sync.Mutex
	alerts  map[Fingerprint]*Alert // every alert received, for inhibition
	groups  map[string]*aggrGroup  // by route index and group labels
	stopped bool
	flushes sync.WaitGroup
}

// aggrGroup is the alerts of one route with the same group labels.
type aggrGroup struct {
	route  *Route
	labels model.Labels
	key    string // route key ":" group labels

	mu        sync.Mutex
	alerts    map[Fingerprint]*Alert
	timer     clock.Timer
	destroyed bool
	flushMu   sync.Mutex // one flush at a time
}

// NewDispatcher builds the routing tree and receivers of cfg.
func NewDispatcher(cfg *Config, opts DispatcherOptions) (*Dispatcher, error) {
	if cfg == nil || cfg.Route == nil {
		return nil, fmt.Errorf("%w: no routes provided", ErrConfig)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Log == nil {
		opts.Log, _ = OpenNotificationLog("")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 500 * time.Millisecond
	}
	if opts.RetryMaxBackoff <= 0 {
		opts.RetryMaxBackoff = 30 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	d := &Dispatcher{
		opts:         opts,
		route:        NewRoute(cfg.Route),
		integrations: map[string][]Integration{},
		inhibit:      newInhibitRules(cfg.InhibitRules),
		resolve:      DefaultResolveTimeout,
		alerts:       map[Fingerprint]*Alert{},
		groups:       map[string]*aggrGroup{},
	}
	if cfg.Global != nil && cfg.Global.ResolveTimeout > 0 {
		d.resolve = time.Duration(cfg.Global.ResolveTimeout)
	}
	stdoutMu := &sync.Mutex{}
	for _, r := range cfg.Receivers {
		var ints []Integration
		for _, c := range r.WebhookConfigs {
			ints = append(ints, &webhook{cfg: c, client: opts.HTTPClient})
		}
		for _, c := range r.SlackConfigs {
			ints = append(ints, &slack{cfg: c, client: opts.HTTPClient})
		}
		for _, c := range r.PagerdutyConfigs {
			ints = append(ints, &pagerduty{cfg: c, client: opts.HTTPClient})
		}
		for _, c := range r.StdoutConfigs {
			ints = append(ints, &stdoutReceiver{cfg: c, mu: stdoutMu, w: opts.Stdout})
		}
		d.integrations[r.Name] = ints
	}
	return d, nil
}

// Send takes alerts in: each is merged with what was received before for
// the same labels, then put in the group of every route it matches. An
// alert without an end time ends resolve_timeout after it was received
// unless sent again. A new group flushes after group_wait, or at once if
// its first alert started longer than group_wait ago.
func (d *Dispatcher) Send(alerts ...*Alert) {
	now := d.opts.Clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	for _, in := range alerts {
		a := in.clone()
		a.UpdatedAt = now
		if a.StartsAt.IsZero() {
			a.StartsAt = now
		}
		if a.EndsAt.IsZero() {
			a.EndsAt = now.Add(d.resolve)
		}
		fp := a.Fingerprint()
		if old, ok := d.alerts[fp]; ok && overlaps(old, a) {
			a = old.merge(a)
		}
		d.alerts[fp] = a
		for _, r := range d.route.Match(a.Labels) {
			d.insertLocked(r, a, now)
		}
	}
	// Forget alerts resolved long enough ago that no group holds them.
	for fp, a := range d.alerts {
		if a.Resolved(now) && now.Sub(a.EndsAt) > d.resolve {
			delete(d.alerts, fp)
		}
	}
}

// overlaps: the new alert extends or overlaps the old one (else it is a
// new firing of the same labels and replaces it).
func overlaps(old, a *Alert) bool {
	return (a.EndsAt.After(old.StartsAt) && a.EndsAt.Before(old.EndsAt)) ||
		(a.StartsAt.After(old.StartsAt) && a.StartsAt.Before(old.EndsAt)) ||
		a.StartsAt.Equal(old.StartsAt)
}

func (d *Dispatcher) insertLocked(r *Route, a *Alert, now time.Time) {
	gl := r.groupLabels(a.Labels)
	id := fmt.Sprintf("%d:%s", r.idx, gl)
	g, ok := d.groups[id]
	if ok {
		g.mu.Lock()
		if !g.destroyed {
			g.alerts[a.Fingerprint()] = a.clone()
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
	}
	g = &aggrGroup{route: r, labels: gl, key: r.Key() + ":" + groupKeyString(gl), alerts: map[Fingerprint]*Alert{}}
	g.alerts[a.Fingerprint()] = a.clone()
	d.groups[id] = g
	wait := r.GroupWait
	if a.StartsAt.Add(r.GroupWait).Before(now) {
		wait = 0
	}
	g.timer = d.opts.Clock.AfterFunc(wait, func() { d.flush(id, g) })
}

// flush sends the group's alerts (those not muted) to its receiver's
// integrations that have something new to say, and schedules the next
// flush a group_interval later.
func (d *Dispatcher) flush(id string, g *aggrGroup) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.flushes.Add(1)
	d.mu.Unlock()
	defer d.flushes.Done()
	g.flushMu.Lock()
	defer g.flushMu.Unlock()

	now := d.opts.Clock.Now()
	g.mu.Lock()
	if g.destroyed {
		g.mu.Unlock()
		return
	}
	g.timer = d.opts.Clock.AfterFunc(g.route.GroupInterval, func() { d.flush(id, g) })
	snapshot := make([]*Alert, 0, len(g.alerts))
	for _, a := range g.alerts {
		c := a.clone()
		if !c.Resolved(now) {
			c.EndsAt = time.Time{} // firing: no end in notifications
		}
		snapshot = append(snapshot, c)
	}
	g.mu.Unlock()
	sortAlerts(snapshot)

	// Mute: inhibited and silenced alerts are left out.
	d.mu.Lock()
	var sources []*Alert
	for _, a := range d.alerts {
		sources = append(sources, a)
	}
	d.mu.Unlock()
	var send []*Alert
	for _, a := range snapshot {
		if _, muted := inhibitedBy(d.inhibit, a.Labels, sources, now); muted {
			continue
		}
		if d.opts.Silences != nil && len(d.opts.Silences.Mutes(a.Labels, now)) > 0 {
			continue
		}
		send = append(send, a)
	}

	ok := true
	if len(send) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), g.route.GroupInterval)
		for i, integ := range d.integrations[g.route.Receiver] {
			if !d.notify(ctx, g, i, integ, send, now) {
				ok = false
			}
		}
		cancel()
	}
	if !ok {
		return
	}
	// Resolved alerts were told (or muted): drop them unless they were
	// updated meanwhile. An empty group is gone; a new alert starts a new
	// one.
	g.mu.Lock()
	for _, a := range snapshot {
		if !a.Resolved(now) {
			continue
		}
		fp := a.Fingerprint()
		if cur, ok := g.alerts[fp]; ok && cur.UpdatedAt.Equal(a.UpdatedAt) {
			delete(g.alerts, fp)
		}
	}
	empty := len(g.alerts) == 0
	if empty {
		g.destroyed = true
		g.timer.Stop()
	}
	g.mu.Unlock()
	if empty {
		d.mu.Lock()
		if d.groups[id] == g {
			delete(d.groups, id)
		}
		d.mu.Unlock()
	}
}

// notify runs deduplication and delivery for one integration; it reports
// whether the group may consider its alerts told.
func (d *Dispatcher) notify(ctx context.Context, g *aggrGroup, idx int, integ Integration, alerts []*Alert, now time.Time) bool {
	recvKey := fmt.Sprintf("%s/%s/%d", g.route.Receiver, integ.Name(), idx)
	var firing, resolved []uint64
	for _, a := range alerts {
		if a.Resolved(now) {
			resolved = append(resolved, uint64(a.Fingerprint()))
		} else {
			firing = append(firing, uint64(a.Fingerprint()))
		}
	}
	entry, _ := d.opts.Log.Query(g.key, recvKey, now)
	if !needsUpdate(entry, firing, resolved, integ.SendResolved(), g.route.RepeatInterval, now) {
		return true
	}
	logIt := func() bool {
		return d.opts.Log.Log(g.key, recvKey, firing, resolved, now, 2*g.route.RepeatInterval) == nil
	}
	if !integ.SendResolved() {
		if len(firing) == 0 {
			return logIt() // nothing to send, but remember it was settled
		}
		alerts = slices.DeleteFunc(slices.Clone(alerts), func(a *Alert) bool { return a.Resolved(now) })
	}
	data := newData(g.route.Receiver, g.key, g.labels, alerts, d.opts.ExternalURL, now)
	var err error
	attempts := 0
	for {
		attempts++
		var retry bool
		retry, err = integ.Notify(ctx, data)
		if err == nil || !retry {
			break
		}
		if serr := d.opts.Sleep(ctx, backoff(attempts, d.opts.RetryBackoff, d.opts.RetryMaxBackoff)); serr != nil {
			err = fmt.Errorf("%s/%s: notify retry canceled after %d attempts: %w", g.route.Receiver, integ.Name(), attempts, err)
			break
		}
	}
	if d.opts.OnNotify != nil {
		d.opts.OnNotify(Notification{Receiver: g.route.Receiver, Integration: integ.Name(), Target: targetOf(integ),
			Data: data, Attempts: attempts, Err: err, At: now})
	}
	if err != nil {
		return false
	}
	return logIt()
}

// needsUpdate decides whether a notification is due, as Alertmanager's
// deduplication does:
//   - never notified: only if something fires;
//   - an alert fires that the last notification did not say was firing;
//   - all alerts resolved since the last notification said some fired;
//   - (with send_resolved) an alert resolved that was not told resolved;
//   - otherwise only once repeat_interval has passed since the last one.
func needsUpdate(entry *LogEntry, firing, resolved []uint64, sendResolved bool, repeat time.Duration, now time.Time) bool {
	if entry == nil {
		return len(firing) > 0
	}
	set := func(s []uint64) map[uint64]bool {
		m := make(map[uint64]bool, len(s))
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	if !subset(firing, set(entry.Firing)) {
		return true
	}
	if len(firing) == 0 {
		return len(entry.Firing) > 0
	}
	if sendResolved && !subset(resolved, set(entry.Resolved)) {
		return true
	}
	return entry.Timestamp.Before(now.Add(-repeat))
}

// Stop cancels every pending flush and waits for those running.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	d.stopped = true
	for _, g := range d.groups {
		g.mu.Lock()
		if g.timer != nil {
			g.timer.Stop()
		}
		g.mu.Unlock()
	}
	d.mu.Unlock()
	d.flushes.Wait()
}

// AlertStatus is an alert as the notifier sees it now, with why it is
// muted: Alertmanager's /api/v2/alerts shape.
type AlertStatus struct {
	Alert       *Alert
	Fingerprint Fingerprint
	State       string   // "active", "suppressed" or "unprocessed"
	SilencedBy  []string // silence IDs
	InhibitedBy []string // fingerprints of inhibiting alerts
	Receivers   []string
}

// Alerts lists the alerts received that have not ended, sorted by labels.
func (d *Dispatcher) Alerts() []AlertStatus {
	now := d.opts.Clock.Now()
	d.mu.Lock()
	var all []*Alert
	for _, a := range d.alerts {
		all = append(all, a.clone())
	}
	d.mu.Unlock()
	slices.SortFunc(all, func(a, b *Alert) int { return a.Labels.Compare(b.Labels) })
	var out []AlertStatus
	for _, a := range all {
		if a.Resolved(now) {
			continue
		}
		st := AlertStatus{Alert: a, Fingerprint: a.Fingerprint(), State: "active"}
		if fp, ok := inhibitedBy(d.inhibit, a.Labels, all, now); ok {
			st.InhibitedBy = []string{fp.String()}
		}
		if d.opts.Silences != nil {
			st.SilencedBy = d.opts.Silences.Mutes(a.Labels, now)
		}
		if len(st.InhibitedBy)+len(st.SilencedBy) > 0 {
			st.State = "suppressed"
		}
		for _, r := range d.route.Match(a.Labels) {
			if !slices.Contains(st.Receivers, r.Receiver) {
				st.Receivers = append(st.Receivers, r.Receiver)
			}
		}
		out = append(out, st)
	}
	return out
}

// GroupCount is the number of aggregation groups holding alerts.
func (d *Dispatcher) GroupCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.groups)
}

func targetOf(i Integration) string {
	switch i := i.(type) {
	case *webhook:
		return i.cfg.URL
	case *slack:
		return i.cfg.Channel
	case *pagerduty:
		return i.cfg.URL
	}
	return ""
}
