package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage14-alerts/promtime"
)

// Config is an Alertmanager configuration file, for the parts implemented:
//
//	global:          resolve_timeout, slack_api_url, pagerduty_url
//	route:           receiver, group_by (… for all labels), continue, matchers,
//	                 match, match_re, group_wait, group_interval,
//	                 repeat_interval, routes
//	inhibit_rules:   source_matchers, target_matchers, source_match(_re),
//	                 target_match(_re), equal
//	receivers:       name, webhook_configs, slack_configs, pagerduty_configs,
//	                 and stdout_configs (this course's: print to the program's
//	                 output)
//
// Anything else (email, templates, time intervals, …) is an unknown field
// and rejected when the file is read, so nothing is silently ignored.
type Config struct {
	Global       *GlobalConfig     `yaml:"global,omitempty"`
	Route        *RouteConfig      `yaml:"route,omitempty"`
	InhibitRules []*InhibitRule    `yaml:"inhibit_rules,omitempty"`
	Receivers    []*ReceiverConfig `yaml:"receivers,omitempty"`
}

// GlobalConfig holds defaults for the receivers.
type GlobalConfig struct {
	// ResolveTimeout is how long an alert without an end time stays firing
	// after it was last received. Defaults to 5m.
	ResolveTimeout promtime.Duration `yaml:"resolve_timeout,omitempty"`
	SlackAPIURL    string            `yaml:"slack_api_url,omitempty"`
	// PagerdutyURL defaults to https://events.pagerduty.com/v2/enqueue.
	PagerdutyURL string `yaml:"pagerduty_url,omitempty"`
}

// RouteConfig is one node of the routing tree.
type RouteConfig struct {
	Receiver       string             `yaml:"receiver,omitempty"`
	GroupBy        []string           `yaml:"group_by,omitempty"`
	Continue       bool               `yaml:"continue,omitempty"`
	Matchers       []string           `yaml:"matchers,omitempty"`
	Match          map[string]string  `yaml:"match,omitempty"`
	MatchRE        map[string]string  `yaml:"match_re,omitempty"`
	GroupWait      *promtime.Duration `yaml:"group_wait,omitempty"`
	GroupInterval  *promtime.Duration `yaml:"group_interval,omitempty"`
	RepeatInterval *promtime.Duration `yaml:"repeat_interval,omitempty"`
	Routes         []*RouteConfig     `yaml:"routes,omitempty"`
}

// InhibitRule mutes alerts matching the target matchers while an alert
// matching the source matchers fires with the same values of the equal
// labels.
type InhibitRule struct {
	SourceMatchers []string          `yaml:"source_matchers,omitempty"`
	TargetMatchers []string          `yaml:"target_matchers,omitempty"`
	SourceMatch    map[string]string `yaml:"source_match,omitempty"`
	SourceMatchRE  map[string]string `yaml:"source_match_re,omitempty"`
	TargetMatch    map[string]string `yaml:"target_match,omitempty"`
	TargetMatchRE  map[string]string `yaml:"target_match_re,omitempty"`
	Equal          []string          `yaml:"equal,omitempty"`
}

// ReceiverConfig names a set of integrations notified together.
type ReceiverConfig struct {
	Name             string             `yaml:"name"`
	WebhookConfigs   []*WebhookConfig   `yaml:"webhook_configs,omitempty"`
	SlackConfigs     []*SlackConfig     `yaml:"slack_configs,omitempty"`
	PagerdutyConfigs []*PagerdutyConfig `yaml:"pagerduty_configs,omitempty"`
	StdoutConfigs    []*StdoutConfig    `yaml:"stdout_configs,omitempty"`
}

// WebhookConfig posts Alertmanager's webhook payload (version 4) to URL.
type WebhookConfig struct {
	// SendResolved defaults to true.
	SendResolved *bool  `yaml:"send_resolved,omitempty"`
	URL          string `yaml:"url,omitempty"`
	// MaxAlerts caps the alerts in one payload (0: all); the rest are
	// counted in truncatedAlerts.
	MaxAlerts uint64            `yaml:"max_alerts,omitempty"`
	Timeout   promtime.Duration `yaml:"timeout,omitempty"`
}

// SlackConfig posts to a Slack incoming webhook.
type SlackConfig struct {
	// SendResolved defaults to false.
	SendResolved *bool  `yaml:"send_resolved,omitempty"`
	APIURL       string `yaml:"api_url,omitempty"`
	Channel      string `yaml:"channel,omitempty"`
	Username     string `yaml:"username,omitempty"`
	// Title and Text are Go templates over the notification (Data);
	// empty means Alertmanager's defaults.
	Title string `yaml:"title,omitempty"`
	Text  string `yaml:"text,omitempty"`
}

// PagerdutyConfig sends Events API v2 events.
type PagerdutyConfig struct {
	// SendResolved defaults to true.
	SendResolved *bool             `yaml:"send_resolved,omitempty"`
	RoutingKey   string            `yaml:"routing_key,omitempty"`
	URL          string            `yaml:"url,omitempty"`
	Severity     string            `yaml:"severity,omitempty"`
	Description  string            `yaml:"description,omitempty"`
	Client       string            `yaml:"client,omitempty"`
	ClientURL    string            `yaml:"client_url,omitempty"`
	Details      map[string]string `yaml:"details,omitempty"`
}

// StdoutConfig prints each notification to the program's output: one line
// per alert. Not an Alertmanager integration; handy in demos and on a
// terminal.
type StdoutConfig struct {
	// SendResolved defaults to true.
	SendResolved *bool `yaml:"send_resolved,omitempty"`
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("notify: bad configuration")

// Defaults, Alertmanager's.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	DefaultResolveTimeout = 5 * time.Minute
	DefaultPagerdutyURL   = "https://events.pagerduty.com/v2/enqueue"
)

// LoadConfig parses and validates a configuration.
func LoadConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &c, nil
}

// LoadConfigFile reads a configuration file.
func LoadConfigFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := LoadConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (c *Config) validate() error {
	if c.Global == nil {
		c.Global = &GlobalConfig{}
	}
	if c.Global.ResolveTimeout == 0 {
		c.Global.ResolveTimeout = promtime.Duration(DefaultResolveTimeout)
	}
	if c.Global.PagerdutyURL == "" {
		c.Global.PagerdutyURL = DefaultPagerdutyURL
	}
	names := map[string]bool{}
	for _, r := range c.Receivers {
		if r.Name == "" {
			return errors.New("missing name in receiver")
		}
		if names[r.Name] {
			return fmt.Errorf("notification config name %q is not unique", r.Name)
		}
		names[r.Name] = true
		for _, w := range r.WebhookConfigs {
			if w.URL == "" {
				return errors.New("one of url or url_file must be configured")
			}
		}
		for _, s := range r.SlackConfigs {
			if s.APIURL == "" {
				if c.Global.SlackAPIURL == "" {
					return errors.New("no global Slack API URL set either inline or in a file")
				}
				s.APIURL = c.Global.SlackAPIURL
			}
		}
		for _, p := range r.PagerdutyConfigs {
			if p.RoutingKey == "" {
				return errors.New("missing service or routing key in PagerDuty config")
			}
			if p.URL == "" {
				p.URL = c.Global.PagerdutyURL
			}
		}
	}
	if c.Route == nil {
		return errors.New("no routes provided")
	}
	if c.Route.Receiver == "" {
		return errors.New("root route must specify a default receiver")
	}
	if len(c.Route.Matchers) > 0 || len(c.Route.Match) > 0 || len(c.Route.MatchRE) > 0 {
		return errors.New("root route must not have any matchers")
	}
	if c.Route.Continue {
		return errors.New("cannot have continue in root route")
	}
	if err := checkRoute(c.Route, names); err != nil {
		return err
	}
	for _, ir := range c.InhibitRules {
		if _, err := allMatchers(ir.SourceMatch, ir.SourceMatchRE, ir.SourceMatchers); err != nil {
			return err
		}
		if _, err := allMatchers(ir.TargetMatch, ir.TargetMatchRE, ir.TargetMatchers); err != nil {
			return err
		}
	}
	return nil
}

func checkRoute(r *RouteConfig, receivers map[string]bool) error {
	if r.Receiver != "" && !receivers[r.Receiver] {
		return fmt.Errorf("undefined receiver %q used in route", r.Receiver)
	}
	seen := map[string]bool{}
	for _, l := range r.GroupBy {
		if seen[l] {
			return fmt.Errorf("duplicated label %q in group_by", l)
		}
		seen[l] = true
	}
	if seen["..."] && len(r.GroupBy) > 1 {
		return errors.New("cannot have wildcard group_by (`...`) and other other labels at the same time")
	}
	if r.GroupInterval != nil && *r.GroupInterval == 0 {
		return errors.New("group_interval cannot be zero")
	}
	if r.RepeatInterval != nil && *r.RepeatInterval == 0 {
		return errors.New("repeat_interval cannot be zero")
	}
	if _, err := allMatchers(r.Match, r.MatchRE, r.Matchers); err != nil {
		return err
	}
	for _, c := range r.Routes {
		if err := checkRoute(c, receivers); err != nil {
			return err
		}
	}
	return nil
}

// allMatchers merges the old (match, match_re) and new (matchers) forms,
// sorted as Alertmanager sorts them.
func allMatchers(eq, re map[string]string, strs []string) (Matchers, error) {
	var ms Matchers
	for _, part := range []struct {
		t index.MatchType
		m map[string]string
	}{{index.MatchEqual, eq}, {index.MatchRegexp, re}} {
		for _, n := range sortedNames(part.m) {
			m, err := NewMatcher(part.t, n, part.m[n])
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
	}
	for _, s := range strs {
		parsed, err := ParseMatchers(s)
		if err != nil {
			return nil, err
		}
		ms = append(ms, parsed...)
	}
	ms.sort()
	return ms, nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
