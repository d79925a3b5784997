package notify

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage14-alerts/clock"
)

var t0 = time.Date(2024, 1, 15, 14, 0, 0, 0, time.UTC)

// receiver is a real HTTP server recording the webhook payloads it gets,
// with the simulated time they arrived at.
type receiver struct {
	srv  *httptest.Server
	clk  clock.Clock
	mu   sync.Mutex
	got  []received
	fail int // answer 500 to this many requests first
}

type received struct {
	path string
	at   time.Duration
	msg  WebhookMessage
	raw  []byte
}

func newReceiver(t *testing.T, clk clock.Clock) *receiver {
	r := &receiver{clk: clk}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail > 0 {
			r.fail--
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		var m WebhookMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("bad payload %s: %v", b, err)
		}
		r.got = append(r.got, received{path: req.URL.Path, at: clk.Now().Sub(t0), msg: m, raw: b})
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) take() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// summary prints a notification as "path status group alerts".
func (x received) summary() string {
	return fmt.Sprintf("%s %s %s %d", x.path, x.msg.Status, x.msg.GroupKey, len(x.msg.Alerts))
}

func alert(labels ...string) *Alert {
	return &Alert{Labels: model.MustFromStrings(labels...), Annotations: map[string]string{"summary": "s"}}
}

const milestone3Config = `
route:
  receiver: team
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      continue: true
    - matchers: ['team="db"']
      receiver: db
receivers:
  - name: team
    webhook_configs: [{url: URL/team}]
  - name: pager
    webhook_configs: [{url: URL/pager}]
  - name: db
    webhook_configs: [{url: URL/db}]
inhibit_rules:
  - source_matchers: ['alertname="ClusterDown"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
`

// Twenty alerts in two clusters make two notifications, after group_wait;
// while nothing changes, nothing more is sent until repeat_interval has
// passed (at the first flush after it); a new alert in a group goes out at
// the group's next group_interval tick; inhibited and silenced alerts send
// nothing; a resolution is sent. The schedule was worked out by hand: flushes
// at 30s + k*5m, repeats at the first flush more than 1h after the last
// notification.
func TestMilestone3_GroupingReducesNoise(t *testing.T) {
	sim := clock.NewSim(t0)
	rcv := newReceiver(t, sim)
	cfg, err := LoadConfig([]byte(strings.ReplaceAll(milestone3Config, "URL", rcv.srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	sil, err := OpenSilences(filepath.Join(t.TempDir(), "silences.json"), sim)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(cfg, DispatcherOptions{Clock: sim, Silences: sil, ExternalURL: "http://am.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	// The firing alerts at each minute, re-sent every minute as a rule
	// manager does, each valid for 4 more minutes.
	active := func(minute int) []*Alert {
		var as []*Alert
		for _, cl := range []string{"eu", "us"} {
			n := 10
			if (cl == "eu" && minute >= 7) || (cl == "us" && minute >= 72) {
				n = 11
			}
			for i := 0; i < n; i++ {
				as = append(as, alert("alertname", "HighCPU", "cluster", cl, "instance", fmt.Sprintf("i%02d", i), "severity", "warning"))
			}
		}
		as = append(as, alert("alertname", "Disk", "severity", "page", "team", "db"))
		if minute >= 70 && minute < 80 {
			as = append(as, alert("alertname", "ClusterDown", "cluster", "us", "severity", "critical"))
		}
		for _, a := range as {
			a.StartsAt = t0
			if a.Name() == "ClusterDown" {
				a.StartsAt = t0.Add(70 * time.Minute)
			}
			a.EndsAt = t0.Add(time.Duration(minute+4) * time.Minute)
		}
		if minute == 80 {
			down := alert("alertname", "ClusterDown", "cluster", "us", "severity", "critical")
			down.StartsAt, down.EndsAt = t0.Add(70*time.Minute), t0.Add(80*time.Minute)
			as = append(as, down)
		}
		return as
	}

	want := map[time.Duration][]string{
		30 * time.Second: {
			`/db firing {}/{team="db"}:{alertname="Disk"} 1`,
			`/pager firing {}/{severity="page"}:{alertname="Disk"} 1`,
			`/team firing {}:{alertname="HighCPU", cluster="eu"} 10`,
			`/team firing {}:{alertname="HighCPU", cluster="us"} 10`,
		},
		// i10 joined eu at 7m: told at the next tick.
		10*time.Minute + 30*time.Second: {`/team firing {}:{alertname="HighCPU", cluster="eu"} 11`},
		// Last told at 30s: the 60m30s flush is exactly 1h later, not
		// more; 65m30s repeats.
		65*time.Minute + 30*time.Second: {
			`/db firing {}/{team="db"}:{alertname="Disk"} 1`,
			`/pager firing {}/{severity="page"}:{alertname="Disk"} 1`,
			`/team firing {}:{alertname="HighCPU", cluster="us"} 10`,
		},
		// ClusterDown (70m) inhibits us's warnings from then on: us's new
		// i10 (72m) is not sent at 75m30s; eu, told at 10m30s, would
		// repeat at 75m30s but is silenced from 71m.
		70*time.Minute + 30*time.Second: {`/team firing {}:{alertname="ClusterDown", cluster="us"} 1`},
		// ClusterDown resolved at 80m: its resolution goes out, and us,
		// no longer inhibited, sends its 11 alerts.
		80*time.Minute + 30*time.Second: {
			`/team firing {}:{alertname="HighCPU", cluster="us"} 11`,
			`/team resolved {}:{alertname="ClusterDown", cluster="us"} 1`,
		},
	}
	got := map[time.Duration][]string{}
	var first []received
	for minute := 0; minute <= 84; minute++ {
		if minute == 71 {
			ms, _ := ParseMatchers(`alertname="HighCPU", cluster="eu"`)
			if _, err := sil.Add(Silence{Matchers: MatchersOf(ms), EndsAt: sim.Now().Add(time.Hour), CreatedBy: "test", Comment: "maintenance"}); err != nil {
				t.Fatal(err)
			}
		}
		d.Send(active(minute)...)
		sim.Advance(time.Minute)
		for _, r := range rcv.take() {
			got[r.at] = append(got[r.at], r.summary())
			if r.at == 30*time.Second {
				first = append(first, r)
			}
		}
	}
	for at := range got {
		slices.Sort(got[at])
	}
	for at, w := range want {
		if !slices.Equal(got[at], w) {
			t.Errorf("at %v:\n got %q\nwant %q", at, got[at], w)
		}
	}
	for at, g := range got {
		if _, ok := want[at]; !ok {
			t.Errorf("unexpected notifications at %v: %q", at, g)
		}
	}

	// The payload of the first eu notification, Alertmanager's webhook
	// format version 4.
	var eu *received
	for i := range first {
		if strings.Contains(first[i].msg.GroupKey, `cluster="eu"`) {
			eu = &first[i]
		}
	}
	if eu == nil {
		t.Fatal("no eu notification at 30s")
	}
	m := eu.msg
	if m.Version != "4" || m.Receiver != "team" || m.Status != "firing" || m.TruncatedAlerts != 0 || m.ExternalURL != "http://am.example" {
		t.Errorf("header %+v", m)
	}
	if fmt.Sprint(m.GroupLabels) != "map[alertname:HighCPU cluster:eu]" ||
		fmt.Sprint(m.CommonLabels) != "map[alertname:HighCPU cluster:eu severity:warning]" ||
		fmt.Sprint(m.CommonAnnotations) != "map[summary:s]" {
		t.Errorf("group/common labels %v %v %v", m.GroupLabels, m.CommonLabels, m.CommonAnnotations)
	}
	for i, a := range m.Alerts {
		if a.Labels["instance"] != fmt.Sprintf("i%02d", i) || a.Status != "firing" || !a.StartsAt.Equal(t0) ||
			!a.EndsAt.IsZero() || len(a.Fingerprint) != 16 {
			t.Errorf("alert %d: %+v", i, a)
		}
	}
	for _, key := range []string{`"version":"4"`, `"groupKey":`, `"truncatedAlerts":0`, `"endsAt":"0001-01-01T00:00:00Z"`, `"generatorURL":""`} {
		if !strings.Contains(string(eu.raw), key) {
			t.Errorf("payload lacks %s: %s", key, eu.raw)
		}
	}
	if n := d.GroupCount(); n != 4 {
		t.Errorf("%d groups left, want 4 (the ClusterDown group ends once its resolution is sent)", n)
	}
}
