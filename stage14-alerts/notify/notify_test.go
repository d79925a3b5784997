package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage14-alerts/clock"
)

func TestParseMatchers(t *testing.T) {
	ok := map[string]string{
		`severity="critical"`:               `{severity="critical"}`,
		`{job=~"api|web", env!="prod"}`:     `{job=~"api|web",env!="prod"}`,
		`env!=prod`:                         `{env!="prod"}`,
		` team = db , x!~"a.*" `:            `{team="db",x!~"a.*"}`,
		`msg="say \"hi\""`:                  `{msg="say \"hi\""}`,
		`"service.name"="checkout"`:         `{service.name="checkout"}`,
		`"with space"="v"`:                  `{"with space"="v"}`,
		`alertname="HighCPU", cluster="eu"`: `{alertname="HighCPU",cluster="eu"}`,
	}
	for in, want := range ok {
		ms, err := ParseMatchers(in)
		if err != nil || ms.String() != want {
			t.Errorf("ParseMatchers(%q) = %v, %v; want %s", in, ms, err, want)
		}
	}
	for _, bad := range []string{``, `{a="b"`, `a`, `=b`, `a="b" c="d"`, `a==b`, `a=~"("`, `a="unterminated`} {
		if _, err := ParseMatchers(bad); !errors.Is(err, ErrBadMatcher) {
			t.Errorf("ParseMatchers(%q): %v, want ErrBadMatcher", bad, err)
		}
	}
	ms, _ := ParseMatchers(`job=~"api|web", env!="prod"`)
	for l, want := range map[string]bool{
		`job=api`:          true,
		`job=web,env=dev`:  true,
		`job=web,env=prod`: false,
		`job=apix`:         false, // anchored
	} {
		var pairs []string
		for _, kv := range strings.Split(l, ",") {
			k, v, _ := strings.Cut(kv, "=")
			pairs = append(pairs, k, v)
		}
		if got := ms.Matches(model.MustFromStrings(pairs...)); got != want {
			t.Errorf("%s matches %s: %v", ms, l, got)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]string{
		"":                       "no routes provided",
		"route: {}\n":            "root route must specify a default receiver",
		"route: {receiver: x}\n": `undefined receiver "x" used in route`,
		"route: {receiver: x, matchers: ['a=b']}\nreceivers: [{name: x}]\n":              "root route must not have any matchers",
		"route: {receiver: x, continue: true}\nreceivers: [{name: x}]\n":                 "cannot have continue in root route",
		"route: {receiver: x, group_by: [a, a]}\nreceivers: [{name: x}]\n":               `duplicated label "a" in group_by`,
		"route: {receiver: x, group_by: ['...', a]}\nreceivers: [{name: x}]\n":           "cannot have wildcard group_by (`...`) and other other labels at the same time",
		"route: {receiver: x, group_interval: 0s}\nreceivers: [{name: x}]\n":             "group_interval cannot be zero",
		"route: {receiver: x}\nreceivers: [{name: x}, {name: x}]\n":                      `notification config name "x" is not unique`,
		"route: {receiver: x}\nreceivers: [{name: x, webhook_configs: [{}]}]\n":          "one of url or url_file must be configured",
		"route: {receiver: x}\nreceivers: [{name: x, slack_configs: [{}]}]\n":            "no global Slack API URL set either inline or in a file",
		"route: {receiver: x}\nreceivers: [{name: x, pagerduty_configs: [{}]}]\n":        "missing service or routing key in PagerDuty config",
		"route: {receiver: x}\nreceivers: [{name: x, email_configs: [{}]}]\n":            "field email_configs not found in type notify.ReceiverConfig",
		"route: {receiver: x, routes: [{matchers: ['a=~(']}]}\nreceivers: [{name: x}]\n": "bad matcher",
	}
	for in, want := range cases {
		_, err := LoadConfig([]byte(in))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	c, err := LoadConfig([]byte("global: {slack_api_url: 'http://slack'}\nroute: {receiver: x}\nreceivers: [{name: x, slack_configs: [{channel: '#a'}], pagerduty_configs: [{routing_key: k}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Receivers[0].SlackConfigs[0].APIURL != "http://slack" || c.Receivers[0].PagerdutyConfigs[0].URL != DefaultPagerdutyURL ||
		time.Duration(c.Global.ResolveTimeout) != DefaultResolveTimeout {
		t.Errorf("defaults not applied: %+v %+v", c.Receivers[0].SlackConfigs[0], c.Global)
	}
}

// The routing example of Alertmanager's documentation, reduced: the
// expected receivers follow its rules (deepest match, first match wins
// unless continue) and were worked out by hand.
func TestRouteMatch(t *testing.T) {
	c, err := LoadConfig([]byte(`
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['service=~"foo1|foo2|baz"']
      receiver: team-X
      routes:
        - matchers: [severity="critical"]
          receiver: team-X-pager
          group_wait: 1m
    - matchers: [service="files"]
      receiver: team-Y
      continue: true
    - matchers: [service="files"]
      receiver: team-Y-archive
      group_by: ['...']
    - matchers: [service="files"]
      receiver: never
receivers: [{name: default}, {name: team-X}, {name: team-X-pager}, {name: team-Y}, {name: team-Y-archive}, {name: never}]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRoute(c.Route)
	cases := map[string]string{
		"service=foo1":                  "team-X",
		"service=baz,severity=critical": "team-X-pager",
		"service=files":                 "team-Y team-Y-archive",
		"service=other":                 "default",
	}
	for l, want := range cases {
		var pairs []string
		for _, kv := range strings.Split(l, ",") {
			k, v, _ := strings.Cut(kv, "=")
			pairs = append(pairs, k, v)
		}
		var got []string
		for _, m := range r.Match(model.MustFromStrings(pairs...)) {
			got = append(got, m.Receiver)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s routed to %v, want %s", l, got, want)
		}
	}
	pager := r.Match(model.MustFromStrings("service", "baz", "severity", "critical", "alertname", "A"))[0]
	if pager.GroupWait != time.Minute || pager.GroupInterval != DefaultGroupInterval || !pager.GroupBy["alertname"] {
		t.Errorf("inherited options %+v", pager)
	}
	if got := pager.Key(); got != `{}/{service=~"foo1|foo2|baz"}/{severity="critical"}` {
		t.Errorf("key %s", got)
	}
	archive := r.Match(model.MustFromStrings("service", "files", "alertname", "A", "x", "1"))[1]
	if gl := archive.groupLabels(model.MustFromStrings("service", "files", "alertname", "A", "x", "1")); gl.Len() != 3 {
		t.Errorf("group_by ... grouped by %s", gl)
	}
}

// An alert that started more than group_wait ago is not held back again:
// its group flushes at once (a restarted notifier, a late alert).
func TestOldAlertFlushesAtOnce(t *testing.T) {
	sim := clock.NewSim(t0)
	rcv := newReceiver(t, sim)
	cfg, _ := LoadConfig([]byte("route: {receiver: r, group_by: [alertname], group_wait: 30s}\nreceivers: [{name: r, webhook_configs: [{url: '" + rcv.srv.URL + "'}]}]\n"))
	d, _ := NewDispatcher(cfg, DispatcherOptions{Clock: sim})
	defer d.Stop()
	old := alert("alertname", "Old")
	old.StartsAt = t0.Add(-time.Minute)
	fresh := alert("alertname", "Fresh")
	fresh.StartsAt = t0
	d.Send(old, fresh)
	sim.Advance(time.Second)
	got := rcv.take()
	if len(got) != 1 || got[0].msg.Alerts[0].Labels["alertname"] != "Old" || got[0].at != 0 {
		t.Fatalf("at once: %+v", got)
	}
	sim.Advance(30 * time.Second)
	if got := rcv.take(); len(got) != 1 || got[0].msg.Alerts[0].Labels["alertname"] != "Fresh" || got[0].at != 30*time.Second {
		t.Fatalf("after group_wait: %+v", got)
	}
}

// A failing receiver is retried with doubling backoff until it answers;
// a 4xx is final.
func TestRetries(t *testing.T) {
	sim := clock.NewSim(t0)
	rcv := newReceiver(t, sim)
	rcv.fail = 3
	cfg, _ := LoadConfig([]byte("route: {receiver: r, group_wait: 0s}\nreceivers: [{name: r, webhook_configs: [{url: '" + rcv.srv.URL + "'}]}]\n"))
	var (
		mu     sync.Mutex
		sleeps []time.Duration
		notes  []Notification
	)
	d, _ := NewDispatcher(cfg, DispatcherOptions{
		Clock: sim,
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			return nil
		},
		OnNotify: func(n Notification) { notes = append(notes, n) },
	})
	defer d.Stop()
	d.Send(alert("alertname", "A"))
	sim.Advance(time.Second)
	if got := rcv.take(); len(got) != 1 {
		t.Fatalf("%d notifications after retries", len(got))
	}
	if len(notes) != 1 || notes[0].Attempts != 4 || notes[0].Err != nil {
		t.Errorf("notes %+v", notes)
	}
	if want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}; !equalDurations(sleeps, want) {
		t.Errorf("backoff %v, want %v", sleeps, want)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no such hook", 404) }))
	defer bad.Close()
	cfg, _ = LoadConfig([]byte("route: {receiver: r, group_wait: 0s}\nreceivers: [{name: r, webhook_configs: [{url: '" + bad.URL + "'}]}]\n"))
	notes = nil
	d2, _ := NewDispatcher(cfg, DispatcherOptions{Clock: sim, Sleep: func(context.Context, time.Duration) error { t.Error("slept after a 404"); return nil },
		OnNotify: func(n Notification) { notes = append(notes, n) }})
	defer d2.Stop()
	d2.Send(alert("alertname", "A"))
	sim.Advance(time.Second)
	if len(notes) != 1 || notes[0].Attempts != 1 || notes[0].Err == nil || !strings.Contains(notes[0].Err.Error(), "unexpected status code 404: no such hook") {
		t.Errorf("404: %+v", notes)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The Slack and PagerDuty payloads, checked field by field against the
// two services' documented formats and Alertmanager's defaults.
func TestSlackAndPagerDuty(t *testing.T) {
	sim := clock.NewSim(t0)
	var (
		mu     sync.Mutex
		bodies = map[string][]byte{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.URL.Path] = b
		mu.Unlock()
		if r.URL.Path == "/pd" {
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"x"}`))
		}
	}))
	defer srv.Close()
	cfg, err := LoadConfig([]byte(`
route: {receiver: r, group_by: [alertname], group_wait: 0s, group_interval: 1m}
receivers:
  - name: r
    slack_configs: [{api_url: '` + srv.URL + `/slack', channel: '#alerts', text: '{{ range .Alerts }}{{ .Annotations.summary }} {{ end }}'}]
    pagerduty_configs: [{routing_key: key123, url: '` + srv.URL + `/pd'}]
`))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := NewDispatcher(cfg, DispatcherOptions{Clock: sim, ExternalURL: "http://am:9093"})
	defer d.Stop()
	a := alert("alertname", "HighCPU", "severity", "warning", "instance", "a")
	a.Annotations["summary"] = "High CPU usage detected"
	a.StartsAt, a.EndsAt = t0, t0.Add(time.Hour)
	d.Send(a)
	sim.Advance(time.Second)

	var sm SlackMessage
	if err := json.Unmarshal(bodies["/slack"], &sm); err != nil {
		t.Fatal(err)
	}
	at := sm.Attachments[0]
	// The subject: status and count, group label values, then the other
	// common labels' values in parentheses.
	if sm.Channel != "#alerts" || sm.Username != "Alertmanager" || at.Title != "[FIRING:1] HighCPU (a warning)" ||
		at.Color != "danger" || at.Text != "High CPU usage detected " || at.TitleLink != "http://am:9093/#/alerts?receiver=r" {
		t.Errorf("slack %+v", sm)
	}
	var ev PagerdutyEvent
	if err := json.Unmarshal(bodies["/pd"], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RoutingKey != "key123" || ev.EventAction != "trigger" || len(ev.DedupKey) != 64 || ev.Payload.Summary != "[FIRING:1] HighCPU (a warning)" ||
		ev.Payload.Severity != "error" || ev.Payload.Source != "Alertmanager" || ev.Payload.CustomDetails["num_firing"] != "1" ||
		!strings.Contains(ev.Payload.CustomDetails["firing"], " - summary = High CPU usage detected\n") {
		t.Errorf("pagerduty %+v %+v", ev, ev.Payload)
	}

	// Resolved: PagerDuty (send_resolved by default) resolves the same
	// incident; Slack (not by default) says nothing.
	delete(bodies, "/slack")
	firstKey := ev.DedupKey
	// Resolved as Prometheus sends it: ending at the evaluation that saw it
	// go, which has passed when it arrives.
	a.EndsAt = sim.Now()
	d.Send(a)
	sim.Advance(time.Minute)
	if err := json.Unmarshal(bodies["/pd"], &ev); err != nil || ev.EventAction != "resolve" || ev.DedupKey != firstKey {
		t.Errorf("resolve %+v %v", ev, err)
	}
	if b, ok := bodies["/slack"]; ok {
		t.Errorf("slack got the resolution without send_resolved: %s", b)
	}
}

func TestStdoutReceiver(t *testing.T) {
	sim := clock.NewSim(t0)
	var out bytes.Buffer
	cfg, _ := LoadConfig([]byte("route: {receiver: r, group_by: [alertname], group_wait: 10s}\nreceivers: [{name: r, stdout_configs: [{}]}]\n"))
	d, _ := NewDispatcher(cfg, DispatcherOptions{Clock: sim, Stdout: &out})
	defer d.Stop()
	d.Send(alert("alertname", "HighCPU", "host", "a"), alert("alertname", "HighCPU", "host", "b"))
	sim.Advance(10 * time.Second)
	want := `[FIRING:2] HighCPU  receiver=r group={}:{alertname="HighCPU"}
  firing   HighCPU host=a — s
  firing   HighCPU host=b — s
`
	if out.String() != want {
		t.Errorf("stdout:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestSilences(t *testing.T) {
	sim := clock.NewSim(t0)
	path := filepath.Join(t.TempDir(), "silences.json")
	s, err := OpenSilences(path, sim)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := ParseMatchers(`alertname="HighCPU"`)
	all, _ := ParseMatchers(`alertname=~".*"`)
	if _, err := s.Add(Silence{Matchers: MatchersOf(all), EndsAt: t0.Add(time.Hour)}); !errors.Is(err, ErrBadSilence) {
		t.Errorf("a silence of everything: %v", err)
	}
	if _, err := s.Add(Silence{Matchers: MatchersOf(ms), EndsAt: t0.Add(-time.Hour)}); !errors.Is(err, ErrBadSilence) {
		t.Errorf("a silence ending in the past: %v", err)
	}
	active, err := s.Add(Silence{Matchers: MatchersOf(ms), EndsAt: t0.Add(time.Hour), CreatedBy: "me", Comment: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := s.Add(Silence{Matchers: MatchersOf(ms), StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	l := model.MustFromStrings("alertname", "HighCPU", "host", "a")
	if got := s.Mutes(l, t0); len(got) != 1 || got[0] != active {
		t.Errorf("mutes %v, want the active silence", got)
	}
	if got := s.Mutes(model.MustFromStrings("alertname", "Other"), t0); len(got) != 0 {
		t.Errorf("mutes another alert: %v", got)
	}

	// Another process (a new store on the same file) sees both, expires
	// one; the first store sees the change.
	s2, err := OpenSilences(path, sim)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := s2.List()
	if len(list) != 2 || list[0].ID != active || list[0].Status.State != "active" || list[1].Status.State != "pending" || list[0].Comment != "deploy" {
		t.Fatalf("reopened list %+v", list)
	}
	sim.Advance(time.Minute)
	if err := s2.Expire(active); err != nil {
		t.Fatal(err)
	}
	if err := s2.Expire(active); !errors.Is(err, ErrBadSilence) {
		t.Errorf("expiring twice: %v", err)
	}
	if err := s2.Expire("nope"); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("expiring a missing silence: %v", err)
	}
	if err := s2.Expire(pending); err != nil {
		t.Fatal(err)
	}
	// The file's mtime may not move within its resolution: the size
	// changes (new end times), which the store also watches.
	if got := s.Mutes(l, sim.Now()); len(got) != 0 {
		t.Errorf("still muted after expiry: %v", got)
	}
	list, _ = s.List()
	for _, x := range list {
		if x.Status.State != "expired" {
			t.Errorf("%s is %s after expiry", x.ID, x.Status.State)
		}
	}
	if list[1].ID == pending && !list[1].StartsAt.Equal(list[1].EndsAt) {
		t.Errorf("an expired pending silence should never start: %+v", list[1])
	}
	sim.Advance(121 * time.Hour)
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("expired silences kept past retention: %d", len(list))
	}
}

// The notification log survives a restart: a new dispatcher with the same
// log does not notify again about what was already told.
func TestNotificationLogSurvivesRestart(t *testing.T) {
	sim := clock.NewSim(t0)
	rcv := newReceiver(t, sim)
	path := filepath.Join(t.TempDir(), "nflog.json")
	cfg, _ := LoadConfig([]byte("route: {receiver: r, group_wait: 10s, repeat_interval: 1h}\nreceivers: [{name: r, webhook_configs: [{url: '" + rcv.srv.URL + "'}]}]\n"))
	start := func() *Dispatcher {
		log, err := OpenNotificationLog(path)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := NewDispatcher(cfg, DispatcherOptions{Clock: sim, Log: log})
		return d
	}
	a := alert("alertname", "A")
	a.StartsAt, a.EndsAt = t0, t0.Add(2*time.Hour)
	d := start()
	d.Send(a)
	sim.Advance(time.Minute)
	d.Stop()
	if n := len(rcv.take()); n != 1 {
		t.Fatalf("%d notifications", n)
	}
	d = start()
	defer d.Stop()
	d.Send(a)
	sim.Advance(time.Minute)
	if got := rcv.take(); len(got) != 0 {
		t.Errorf("notified again after a restart: %d", len(got))
	}
}

// The sender posts Alertmanager API v2 alerts, in batches, with the
// external labels added, and drops the oldest when its queue is full.
func TestSender(t *testing.T) {
	var (
		mu      sync.Mutex
		batches [][]map[string]any
	)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		var b []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		batches = append(batches, b)
		mu.Unlock()
	}))
	defer am.Close()
	s := NewSender(SenderOptions{URLs: []string{am.URL + "/"}, MaxBatch: 2, QueueCapacity: 3, ExternalLabels: model.MustFromStrings("cluster", "eu", "alertname", "ignored")})
	for i := 0; i < 4; i++ {
		a := alert("alertname", "A", "i", string(rune('0'+i)))
		a.StartsAt, a.EndsAt, a.GeneratorURL = t0, t0.Add(4*time.Minute), "http://prom/graph"
		s.Send(a)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || len(batches[0]) != 2 || len(batches[1]) != 1 {
		t.Fatalf("batches %v", batches)
	}
	first := batches[0][0]
	labels := first["labels"].(map[string]any)
	if labels["i"] != "1" || labels["cluster"] != "eu" || labels["alertname"] != "A" ||
		first["startsAt"] != "2024-01-15T14:00:00Z" || first["endsAt"] != "2024-01-15T14:04:00Z" || first["generatorURL"] != "http://prom/graph" {
		t.Errorf("first alert %v (the oldest, i=0, was dropped)", first)
	}
	if st := s.Stats(); st.Sent != 3 || st.Dropped != 1 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}

	// Started, it delivers in the background; Stop sends what is left.
	s2 := NewSender(SenderOptions{URLs: []string{am.URL}})
	s2.Start()
	for i := 0; i < 3; i++ {
		s2.Send(alert("alertname", "B", "i", string(rune('0'+i))))
	}
	s2.Stop()
	if st := s2.Stats(); st.Sent != 3 {
		t.Errorf("after Stop: %+v, want the 3 alerts sent", st)
	}
	NewSender(SenderOptions{}).Stop() // never started: returns
}
