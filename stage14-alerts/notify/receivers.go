package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
)

// WebhookMessage is Alertmanager's webhook payload, version 4: the
// notification's data plus the version, the group key and how many alerts
// max_alerts left out.
type WebhookMessage struct {
	*Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

type webhook struct {
	cfg    *WebhookConfig
	client *http.Client
}

func (w *webhook) Name() string       { return "webhook" }
func (w *webhook) SendResolved() bool { return boolOr(w.cfg.SendResolved, true) }

func (w *webhook) Notify(ctx context.Context, d *Data) (bool, error) {
	msg := &WebhookMessage{Data: d, Version: "4", GroupKey: d.GroupKey}
	if n := w.cfg.MaxAlerts; n > 0 && uint64(len(d.Alerts)) > n {
		c := *d
		c.Alerts = d.Alerts[:n]
		msg.Data, msg.TruncatedAlerts = &c, uint64(len(d.Alerts))-n
	}
	return postJSON(ctx, w.client, w.cfg.URL, msg, time.Duration(w.cfg.Timeout))
}

// Subject is Alertmanager's default title of a notification:
// "[FIRING:2] HighCPU web (warning)": the status, the firing count, the
// group's label values, and in parentheses the values of the other labels
// all alerts share.
func Subject(d *Data) string {
	var b strings.Builder
	b.WriteString("[" + strings.ToUpper(d.Status))
	if d.Status == "firing" {
		b.WriteString(":" + strconv.Itoa(len(d.Firing())))
	}
	b.WriteString("] ")
	b.WriteString(strings.Join(sortedValues(d.GroupLabels, nil), " "))
	b.WriteString(" ")
	if len(d.CommonLabels) > len(d.GroupLabels) {
		b.WriteString("(" + strings.Join(sortedValues(d.CommonLabels, d.GroupLabels), " ") + ")")
	}
	return b.String()
}

// sortedValues are m's values in the order of their names, skipping the
// names in except.
func sortedValues(m, except map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		if _, skip := except[k]; !skip {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	out := make([]string, len(names))
	for i, k := range names {
		out[i] = m[k]
	}
	return out
}

var tmplFuncs = template.FuncMap{
	"toUpper":   strings.ToUpper,
	"toLower":   strings.ToLower,
	"trimSpace": strings.TrimSpace,
	"join":      func(sep string, s []string) string { return strings.Join(s, sep) },
	"subject":   Subject,
}

// expandData renders a receiver's template field over the notification.
func expandData(text string, d *Data) (string, error) {
	t, err := template.New("").Funcs(tmplFuncs).Option("missingkey=zero").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// SlackMessage is what an incoming webhook receives.
type SlackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	Attachments []SlackAttachment `json:"attachments"`
}

// SlackAttachment is one message attachment.
type SlackAttachment struct {
	Title     string   `json:"title,omitempty"`
	TitleLink string   `json:"title_link,omitempty"`
	Text      string   `json:"text"`
	Fallback  string   `json:"fallback"`
	Color     string   `json:"color,omitempty"`
	MrkdwnIn  []string `json:"mrkdwn_in,omitempty"`
}

type slack struct {
	cfg    *SlackConfig
	client *http.Client
}

func (s *slack) Name() string       { return "slack" }
func (s *slack) SendResolved() bool { return boolOr(s.cfg.SendResolved, false) }

func (s *slack) Notify(ctx context.Context, d *Data) (bool, error) {
	title := Subject(d)
	if s.cfg.Title != "" {
		var err error
		if title, err = expandData(s.cfg.Title, d); err != nil {
			return false, fmt.Errorf("slack title: %w", err)
		}
	}
	text := ""
	if s.cfg.Text != "" {
		var err error
		if text, err = expandData(s.cfg.Text, d); err != nil {
			return false, fmt.Errorf("slack text: %w", err)
		}
	}
	user := s.cfg.Username
	if user == "" {
		user = "Alertmanager"
	}
	color := "good"
	if d.Status == "firing" {
		color = "danger"
	}
	link := d.ExternalURL + "/#/alerts?receiver=" + urlQuery(d.Receiver)
	msg := SlackMessage{Channel: s.cfg.Channel, Username: user, Attachments: []SlackAttachment{{
		Title: title, TitleLink: link, Text: text, Fallback: title + " | " + link, Color: color,
		MrkdwnIn: []string{"fallback", "pretext", "text"},
	}}}
	return postJSON(ctx, s.client, s.cfg.APIURL, msg, 0)
}

// PagerdutyEvent is an Events API v2 event.
type PagerdutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger or resolve
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerdutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
}

// PagerdutyPayload describes what triggered.
type PagerdutyPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

type pagerduty struct {
	cfg    *PagerdutyConfig
	client *http.Client
}

func (p *pagerduty) Name() string       { return "pagerduty" }
func (p *pagerduty) SendResolved() bool { return boolOr(p.cfg.SendResolved, true) }

// Notify triggers (or resolves) one PagerDuty incident per group: the dedup
// key is the SHA-256 of the group key, as Alertmanager's, so a later
// notification of the same group updates the same incident.
func (p *pagerduty) Notify(ctx context.Context, d *Data) (bool, error) {
	ev := PagerdutyEvent{
		RoutingKey:  p.cfg.RoutingKey,
		EventAction: "trigger",
		DedupKey:    PagerdutyDedupKey(d.GroupKey),
		Client:      orDefault(p.cfg.Client, "Alertmanager"),
		ClientURL:   orDefault(p.cfg.ClientURL, d.ExternalURL+"/#/alerts?receiver="+urlQuery(d.Receiver)),
	}
	if d.Status == "resolved" {
		ev.EventAction = "resolve"
	}
	summary := Subject(d)
	if p.cfg.Description != "" {
		var err error
		if summary, err = expandData(p.cfg.Description, d); err != nil {
			return false, fmt.Errorf("pagerduty description: %w", err)
		}
	}
	if len(summary) > 1024 {
		summary = summary[:1021] + "..."
	}
	details := map[string]string{
		"firing":       alertList(d.Firing()),
		"resolved":     alertList(d.Resolved()),
		"num_firing":   strconv.Itoa(len(d.Firing())),
		"num_resolved": strconv.Itoa(len(d.Resolved())),
	}
	for k, v := range p.cfg.Details {
		details[k] = v
	}
	ev.Payload = &PagerdutyPayload{Summary: summary, Source: ev.Client, Severity: orDefault(p.cfg.Severity, "error"), CustomDetails: details}
	return postJSON(ctx, p.client, p.cfg.URL, ev, 0)
}

// PagerdutyDedupKey is the incident key of a group: the SHA-256 of its key,
// in hex.
func PagerdutyDedupKey(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(sum[:])
}

// alertList is Alertmanager's plain-text list of alerts.
func alertList(as []AlertData) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString("Labels:\n")
		for _, k := range sortedKeys(a.Labels) {
			fmt.Fprintf(&b, " - %s = %s\n", k, a.Labels[k])
		}
		b.WriteString("Annotations:\n")
		for _, k := range sortedKeys(a.Annotations) {
			fmt.Fprintf(&b, " - %s = %s\n", k, a.Annotations[k])
		}
		fmt.Fprintf(&b, "Source: %s\n", a.GeneratorURL)
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func urlQuery(s string) string { return template.URLQueryEscaper(s) }

// stdoutReceiver prints notifications, one line per alert.
type stdoutReceiver struct {
	cfg *StdoutConfig
	mu  *sync.Mutex
	w   io.Writer
}

func (s *stdoutReceiver) Name() string       { return "stdout" }
func (s *stdoutReceiver) SendResolved() bool { return boolOr(s.cfg.SendResolved, true) }

func (s *stdoutReceiver) Notify(_ context.Context, d *Data) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s receiver=%s group=%s\n", Subject(d), d.Receiver, d.GroupKey)
	for _, a := range d.Alerts {
		fmt.Fprintf(&b, "  %-8s %s", a.Status, a.Labels["alertname"])
		for _, k := range sortedKeys(a.Labels) {
			if k != "alertname" {
				fmt.Fprintf(&b, " %s=%s", k, a.Labels[k])
			}
		}
		if s := a.Annotations["summary"]; s != "" {
			fmt.Fprintf(&b, " — %s", s)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(s.w, b.String())
	return false, err
}
