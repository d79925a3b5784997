package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage14-alerts/rules"
)

const thresholdRules = `groups:
  - name: system
    interval: 15s
    rules:
      - alert: HighCPU
        expr: avg(cpu_usage) > 0.8
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "High CPU usage detected"
      - alert: HostHighCPU
        expr: cpu_usage > 0.8
        for: 30s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.host }} at {{ $value }}"
`

// Every expectation below was worked out by hand from the two series (the
// table in the comment) and Prometheus's rules: pending when the expression
// returns the series, firing once it has for `for`, resolved when it stops.
//
//	t(s)   0    15   30   45   60    75   90   105  120   135  150
//	a    0.72 0.85 0.87 0.90 0.88  0.86 0.91 0.85 0.50  0.40 0.30
//	b    0.70 0.85 0.85 0.86 0.75  0.92 0.93 0.95 0.95  0.50 0.50
//	avg  0.71 0.85 0.86 0.88 0.815 0.89 0.92 0.90 0.725 0.45 0.40
func TestMilestone1_ThresholdAlerts(t *testing.T) {
	e := newEnv(t, thresholdRules, rules.ManagerOptions{})
	e.series(`cpu_usage{host="a"}`, base, 15*time.Second, 0.72, 0.85, 0.87, 0.90, 0.88, 0.86, 0.91, 0.85, 0.50, 0.40, 0.30)
	e.series(`cpu_usage{host="b"}`, base, 15*time.Second, 0.70, 0.85, 0.85, 0.86, 0.75, 0.92, 0.93, 0.95, 0.95, 0.50, 0.50)
	high := alertingRule(t, e.mgr, "HighCPU")
	host := alertingRule(t, e.mgr, "HostHighCPU")

	if high.State() != rules.StateUnknown {
		t.Errorf("before any evaluation: %v, want unknown", high.State())
	}
	wantHigh := []string{"inactive", "pending", "pending", "pending", "pending", "firing", "firing", "firing", "inactive", "inactive", "inactive"}
	wantHost := []string{"-", "a=pending b=pending", "a=pending b=pending", "a=firing b=firing", "a=firing", "a=firing b=pending",
		"a=firing b=pending", "a=firing b=firing", "b=firing", "-", "-"}
	// ALERTS as a query sees it right after each evaluation; the stale
	// markers written when a series ends make it vanish at once.
	const (
		hiP = `ALERTS{alertname="HighCPU", alertstate="pending", severity="warning"} 1`
		hiF = `ALERTS{alertname="HighCPU", alertstate="firing", severity="warning"} 1`
		aP  = `ALERTS{alertname="HostHighCPU", alertstate="pending", host="a", severity="page"} 1`
		aF  = `ALERTS{alertname="HostHighCPU", alertstate="firing", host="a", severity="page"} 1`
		bP  = `ALERTS{alertname="HostHighCPU", alertstate="pending", host="b", severity="page"} 1`
		bF  = `ALERTS{alertname="HostHighCPU", alertstate="firing", host="b", severity="page"} 1`
	)
	wantALERTS := [][]string{
		{}, {hiP, aP, bP}, {hiP, aP, bP}, {hiP, aF, bF}, {hiP, aF}, {hiF, aF, bP},
		{hiF, aF, bP}, {hiF, aF, bF}, {bF}, {}, {},
	}
	for i := range wantHigh {
		ts := at(time.Duration(i) * 15 * time.Second)
		e.evalAll(ts)
		if got := high.State().String(); got != wantHigh[i] {
			t.Errorf("t=%ds HighCPU %s, want %s", i*15, got, wantHigh[i])
		}
		if got := states(host); got != wantHost[i] {
			t.Errorf("t=%ds HostHighCPU %s, want %s", i*15, got, wantHost[i])
		}
		if got, want := e.query("ALERTS", ts), strings.Join(sorted(wantALERTS[i]), "\n"); got != want {
			t.Errorf("t=%ds ALERTS:\n%s\nwant:\n%s", i*15, got, want)
		}
		if i == 5 {
			// ActiveAt in Unix seconds: HighCPU and a since 15s, b
			// since 75s (its first run resolved at 60s).
			s15, s75 := base.Unix()+15, base.Unix()+75
			want := fmt.Sprintf("ALERTS_FOR_STATE{alertname=\"HighCPU\", severity=\"warning\"} %d\n"+
				"ALERTS_FOR_STATE{alertname=\"HostHighCPU\", host=\"a\", severity=\"page\"} %d\n"+
				"ALERTS_FOR_STATE{alertname=\"HostHighCPU\", host=\"b\", severity=\"page\"} %d", s15, s15, s75)
			if got := e.query("ALERTS_FOR_STATE", ts); got != want {
				t.Errorf("t=75s ALERTS_FOR_STATE:\n%s\nwant:\n%s", got, want)
			}
			for _, a := range host.ActiveAlerts() {
				if a.Labels.Get("host") == "a" {
					if a.Annotations["summary"] != "a at 0.86" || a.Value != 0.86 {
						t.Errorf("a's annotation %q value %v", a.Annotations["summary"], a.Value)
					}
					if !a.ActiveAt.Equal(at(15*time.Second)) || !a.FiredAt.Equal(at(45*time.Second)) {
						t.Errorf("a active %v fired %v", a.ActiveAt, a.FiredAt)
					}
				}
			}
		}
	}

	// What was handed to the notifier for HighCPU: firing at 75s (valid for
	// 4 x max(interval, resend delay 1m) = 4m), then resolved at 120s; no
	// resend in between (the resend delay is 1m).
	var got []string
	for _, a := range e.sent.take() {
		if a.Labels.Get("alertname") != "HighCPU" {
			continue
		}
		resolved := "-"
		if !a.ResolvedAt.IsZero() {
			resolved = a.ResolvedAt.Sub(base).String()
		}
		got = append(got, fmt.Sprintf("%s sent=%v until=%v resolved=%s", a.State,
			a.LastSentAt.Sub(base), a.ValidUntil.Sub(base), resolved))
	}
	want := []string{
		"firing sent=1m15s until=5m15s resolved=-",
		"inactive sent=2m0s until=6m0s resolved=2m0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := high.Status(); st.Health != rules.HealthGood || st.Evaluations != 11 || st.LastError != nil {
		t.Errorf("rule status %+v", st)
	}
	// At 150s nothing is pending or firing: the last evaluation wrote no
	// samples (only stale markers, which are not counted).
	if gs := e.mgr.Groups()[0].Status(); gs.Evaluations != 11 || gs.Samples != 0 || gs.RuleFailures != 0 || !gs.LastEvaluation.Equal(at(150*time.Second)) {
		t.Errorf("group status %+v", gs)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

const flappingRules = `groups:
  - name: flapping
    interval: 15s
    rules:
      - alert: Flapping
        expr: x > 0.8
        for: 1m
      - alert: FlappingNoFor
        expr: x > 0.8
      - alert: Down
        expr: up == 0
        keep_firing_for: 2m
      - alert: DownNoKeep
        expr: up == 0
`

// A series crossing the threshold every evaluation never stays above it for
// `for`, so the alert never fires (and nothing is sent); without `for` the
// same series fires and resolves 20 times each. keep_firing_for holds a
// firing alert through gaps shorter than itself.
func TestMilestone2_ForPreventsFlapping(t *testing.T) {
	e := newEnv(t, flappingRules, rules.ManagerOptions{})
	var x []float64
	for i := 0; i < 40; i++ {
		x = append(x, []float64{0.9, 0.5}[i%2])
	}
	e.series(`x`, base, 15*time.Second, x...)
	// up: down 0-60s, up 75-120s (a 45s gap), down 135-150s, up from 165s.
	var up []float64
	for i := 0; i < 40; i++ {
		v := 1.0
		if i <= 4 || i == 9 || i == 10 {
			v = 0
		}
		up = append(up, v)
	}
	e.series(`up`, base, 15*time.Second, up...)

	flap := alertingRule(t, e.mgr, "Flapping")
	down := alertingRule(t, e.mgr, "Down")
	downNoKeep := alertingRule(t, e.mgr, "DownNoKeep")
	var downStates, noKeepStates []string
	for i := 0; i < 40; i++ {
		ts := at(time.Duration(i) * 15 * time.Second)
		e.evalAll(ts)
		if s := flap.State(); s == rules.StateFiring {
			t.Fatalf("t=%ds: Flapping fired", i*15)
		} else if want := []rules.AlertState{rules.StatePending, rules.StateInactive}[i%2]; s != want {
			t.Errorf("t=%ds: Flapping %v, want %v", i*15, s, want)
		}
		if i < 22 {
			downStates = append(downStates, down.State().String()[:1])
			noKeepStates = append(noKeepStates, downNoKeep.State().String()[:1])
		}
		if i >= 5 && i <= 8 {
			as := down.ActiveAlerts()
			if len(as) != 1 || !as[0].KeepFiringSince.Equal(at(75*time.Second)) || !as[0].FiredAt.Equal(base) {
				t.Errorf("t=%ds: Down alerts %+v, want firing since 0s, kept since 75s", i*15, as)
			}
		}
	}
	end := at(39 * 15 * time.Second)
	if got := e.query(`count_over_time(ALERTS{alertname="Flapping", alertstate="firing"}[15m])`, end); got != "" {
		t.Errorf("Flapping has firing ALERTS samples: %s", got)
	}
	if got := e.query(`count_over_time(ALERTS{alertname="Flapping", alertstate="pending"}[15m])`, end); got != `{alertname="Flapping", alertstate="pending"} 20` {
		t.Errorf("Flapping pending samples: %q, want 20 (every other evaluation)", got)
	}

	// f: firing, i: inactive, one letter per 15s from 0s to 315s.
	if got, want := strings.Join(downStates, ""), "fffffffffffffffffffi"+"ii"; got != want {
		t.Errorf("Down (keep_firing_for 2m):\n got %s\nwant %s", got, want)
	}
	if got, want := strings.Join(noKeepStates, ""), "fffffiiiiffiiiiiiiiiii"; got != want {
		t.Errorf("DownNoKeep:\n got %s\nwant %s", got, want)
	}

	count := map[string]int{}
	var downSent []string
	for _, a := range e.sent.take() {
		count[a.Labels.Get("alertname")+" "+a.State.String()]++
		if a.Labels.Get("alertname") == "Down" {
			downSent = append(downSent, fmt.Sprintf("%s@%v", a.State, a.LastSentAt.Sub(base)))
		}
	}
	if count["Flapping firing"]+count["Flapping inactive"] != 0 {
		t.Errorf("Flapping was sent: %v", count)
	}
	if count["FlappingNoFor firing"] != 20 || count["FlappingNoFor inactive"] != 20 {
		t.Errorf("FlappingNoFor sent %d firing, %d resolved; want 20 and 20", count["FlappingNoFor firing"], count["FlappingNoFor inactive"])
	}
	// Down: fired at 0s, re-sent once each resend delay (1m) has passed
	// (the first evaluation after it: every 1m15s), never resolved during
	// the gaps, resolved at 4m45s; the resolution is re-sent the same way
	// for the 15 minutes a resolved alert is kept, so a notifier that
	// missed it still hears of it.
	if got, want := strings.Join(downSent, " "), "firing@0s firing@1m15s firing@2m30s firing@3m45s "+
		"inactive@4m45s inactive@6m0s inactive@7m15s inactive@8m30s inactive@9m45s"; got != want {
		t.Errorf("Down sent %s\nwant %s", got, want)
	}
}
