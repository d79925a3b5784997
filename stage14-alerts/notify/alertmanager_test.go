package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage14-alerts/clock"
)

// buildTool builds (or finds in the cache) a real program with the
// repository's .ci/build-tools. Where it cannot be built the test skips
// with one line, except in CI (CI=true), where that is a failure.
func buildTool(t *testing.T, name string) string {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join("..", "..", ".ci", "build-tools"))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", script, name).Output()
	if err != nil {
		msg := fmt.Sprintf("%s could not be built from the module proxy (%v); skipping", name, err)
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + strings.TrimSpace(lastLine(string(ee.Stderr)))
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return strings.TrimSpace(string(out))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// startAlertmanager runs a real Alertmanager on 127.0.0.1, port 0, and
// returns its base URL; it is stopped (by its PID) when the test ends.
func startAlertmanager(t *testing.T, bin, config string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--cluster.listen-address=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// It logs the address it listens on.
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="Listening on" address=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("alertmanager did not say where it listens within 60s")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager at %s not ready: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond) // polling a process we do not control
	}
}

// listedAlert is an alert of Alertmanager's GET /api/v2/alerts.
type listedAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

// hookRecorder records webhook payloads by path.
type hookRecorder struct {
	mu  sync.Mutex
	got map[string][]map[string]any
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	h.mu.Lock()
	h.got[r.URL.Path] = append(h.got[r.URL.Path], m)
	h.mu.Unlock()
}

func (h *hookRecorder) wait(t *testing.T, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		got := h.got[path]
		h.mu.Unlock()
		if len(got) > 0 {
			return got[0]
		}
		time.Sleep(50 * time.Millisecond) // polling another process's delivery
	}
	t.Fatalf("no webhook on %s within 60s", path)
	return nil
}

// Our alerts reach a real Alertmanager, which lists them in its API with
// the same fingerprints; and for the same alerts and configuration the
// webhook payload of our notifier equals the real Alertmanager's, field by
// field (the real one is the oracle).
func TestMilestone4_ExternalSystems(t *testing.T) {
	bin := buildTool(t, "alertmanager")
	rec := &hookRecorder{got: map[string][]map[string]any{}}
	hooks := httptest.NewServer(rec)
	defer hooks.Close()
	config := `
route:
  receiver: hook
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 1m
receivers:
  - name: hook
    webhook_configs: [{url: '` + hooks.URL + `/PATH'}]
`
	base := startAlertmanager(t, bin, strings.ReplaceAll(config, "PATH", "am"))

	now := time.Now().UTC().Truncate(time.Second)
	mk := func(instance, job string) *Alert {
		return &Alert{
			Labels:      model.MustFromStrings("alertname", "HighCPU", "cluster", "eu", "instance", instance, "job", job, "severity", "warning"),
			Annotations: map[string]string{"summary": "High CPU on " + instance, "runbook": "https://runbooks/cpu"},
			// Starting now: an alert older than group_wait is flushed at
			// once, racing the rest of the batch into its group.
			StartsAt:     now,
			EndsAt:       now.Add(4 * time.Minute),
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=up&g0.tab=1",
		}
	}
	alerts := []*Alert{mk("b:9100", "node"), mk("a:9100", "node"), mk("a:9100", "api"), mk("b:9100", "api")}

	// 1. Sent as Prometheus sends them, listed by the real Alertmanager.
	s := NewSender(SenderOptions{URLs: []string{base}})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Send(alerts...)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("posting to the real Alertmanager: %v", err)
	}
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	var listed []listedAlert
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(listed) != len(alerts) {
		t.Fatalf("the real Alertmanager lists %d alerts, want %d", len(listed), len(alerts))
	}
	for _, a := range alerts {
		fp := a.Fingerprint().String()
		i := slices.IndexFunc(listed, func(x listedAlert) bool { return x.Fingerprint == fp })
		if i < 0 {
			t.Errorf("no alert with our fingerprint %s for %s in the real Alertmanager's list", fp, a.Labels)
			continue
		}
		l := listed[i]
		if !reflect.DeepEqual(l.Labels, a.Labels.Map()) || !reflect.DeepEqual(l.Annotations, a.Annotations) ||
			!l.StartsAt.Equal(a.StartsAt) || l.Status.State != "active" || len(l.Receivers) != 1 || l.Receivers[0].Name != "hook" {
			t.Errorf("listed %+v for %s", l, a.Labels)
		}
	}

	// 2. The same alerts through our notifier, same configuration.
	cfg, err := LoadConfig([]byte(strings.ReplaceAll(config, "PATH", "ours")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(cfg, DispatcherOptions{Clock: clock.Real()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	d.Send(alerts...)
	theirs, ours := rec.wait(t, "/am"), rec.wait(t, "/ours")

	// externalURL is each notifier's own address; Alertmanager's newer
	// fields (notification_reason, routeLabels) are not produced here.
	for _, k := range []string{"externalURL", "notification_reason", "routeLabels"} {
		delete(theirs, k)
		delete(ours, k)
	}
	if !reflect.DeepEqual(theirs, ours) {
		tb, _ := json.MarshalIndent(theirs, "", "  ")
		ob, _ := json.MarshalIndent(ours, "", "  ")
		t.Errorf("webhook payloads differ.\nreal Alertmanager:\n%s\nours:\n%s", tb, ob)
	}
	if ours["version"] != "4" || len(ours["alerts"].([]any)) != 4 {
		t.Errorf("payload %v", ours)
	}
}
