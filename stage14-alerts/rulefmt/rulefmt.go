// Package rulefmt reads Prometheus rule files and validates them with
// Prometheus's rules and messages, file, line and column included, so that a
// rule file that `promtool check rules` accepts loads here, and one it rejects
// is rejected with the same lines:
//
//	alerts.yml: 7:15: group "system", rule 1, "HighCPU": could not parse expression: 1:5: parse error: …
//
// A file is read twice with yaml.v3, as Prometheus does: strictly into the
// rule types (unknown fields are errors that name the type, hence this
// package's name), and into a mirror whose names and expressions are
// yaml.Nodes, which carry the positions the messages cite.
package rulefmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage14-alerts/promtime"
	"github.com/tsdb-course/stage14-alerts/template"
)

// RuleGroups is the content of one rule file.
type RuleGroups struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is a list of rules evaluated in order at one interval.
type RuleGroup struct {
	Name        string             `yaml:"name"`
	Interval    promtime.Duration  `yaml:"interval,omitempty"`
	QueryOffset *promtime.Duration `yaml:"query_offset,omitempty"`
	Limit       int                `yaml:"limit,omitempty"`
	Rules       []Rule             `yaml:"rules"`
	Labels      map[string]string  `yaml:"labels,omitempty"`
}

// Rule is an alerting rule (Alert set) or a recording rule (Record set).
type Rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           promtime.Duration `yaml:"for,omitempty"`
	KeepFiringFor promtime.Duration `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`

	parsed parser.Expr // set by validation
}

// ParsedExpr is Expr parsed, once a file has been validated (nil before,
// or for a rule built in code): loading need not parse it again.
func (r *Rule) ParsedExpr() parser.Expr { return r.parsed }

// ruleGroups, RuleGroupNode and RuleNode mirror the types above with
// yaml.Nodes where a message needs a position. (The embedded Node of a group
// is never filled by yaml.v3, so group-level messages read "0:0:", exactly as
// Prometheus's do.)
type ruleGroups struct {
	Groups []RuleGroupNode `yaml:"groups"`
}

// RuleGroupNode is RuleGroup with positions.
type RuleGroupNode struct {
	yaml.Node
	Name        string             `yaml:"name"`
	Interval    promtime.Duration  `yaml:"interval,omitempty"`
	QueryOffset *promtime.Duration `yaml:"query_offset,omitempty"`
	Limit       int                `yaml:"limit,omitempty"`
	Rules       []RuleNode         `yaml:"rules"`
	Labels      map[string]string  `yaml:"labels,omitempty"`
}

// RuleNode is Rule with the positions of its name and expression.
type RuleNode struct {
	Record        yaml.Node         `yaml:"record,omitempty"`
	Alert         yaml.Node         `yaml:"alert,omitempty"`
	Expr          yaml.Node         `yaml:"expr"`
	For           promtime.Duration `yaml:"for,omitempty"`
	KeepFiringFor promtime.Duration `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

// ErrInvalid is wrapped by every validation error (not by YAML errors).
var ErrInvalid = errors.New("invalid rule")

// Error is a problem with one rule: "7:15: group "g", rule 1, "Name": msg".
type Error struct {
	Group    string
	Rule     int // 1-based
	RuleName string
	Err      WrappedError
}

func (e *Error) Error() string {
	if e.Err.err == nil {
		return ""
	}
	return e.Err.position() + fmt.Sprintf("group %q, rule %d, %q: %v", e.Group, e.Rule, e.RuleName, e.Err.err)
}

// Unwrap gives the WrappedError.
func (e *Error) Unwrap() error { return &e.Err }

// WrappedError is a message with the YAML node(s) it is about.
type WrappedError struct {
	err           error
	node, nodeAlt *yaml.Node
}

func (w *WrappedError) position() string {
	switch {
	case w.nodeAlt != nil:
		return fmt.Sprintf("%d:%d: %d:%d: ", w.node.Line, w.node.Column, w.nodeAlt.Line, w.nodeAlt.Column)
	case w.node != nil:
		return fmt.Sprintf("%d:%d: ", w.node.Line, w.node.Column)
	}
	return ""
}

func (w *WrappedError) Error() string {
	if w.err == nil {
		return ""
	}
	return w.position() + w.err.Error()
}

// Unwrap gives the message's own error.
func (w *WrappedError) Unwrap() error { return w.err }

// Is makes every validation error an ErrInvalid.
func (w *WrappedError) Is(target error) bool { return target == ErrInvalid }

// Parse reads and validates a rule file's content. With ignoreUnknownFields
// unknown keys are skipped instead of rejected (promtool's
// --ignore-unknown-fields). Any error means the groups must not be used.
func Parse(content []byte, ignoreUnknownFields bool) (*RuleGroups, []error) {
	var (
		groups RuleGroups
		nodes  ruleGroups
		errs   []error
	)
	// The two reads are independent: the mirror is read on another core.
	var (
		wg      sync.WaitGroup
		nodeErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		nodeErr = yaml.Unmarshal(content, &nodes)
	}()
	dec := yaml.NewDecoder(bytes.NewReader(content))
	dec.KnownFields(!ignoreUnknownFields)
	if err := dec.Decode(&groups); err != nil && !errors.Is(err, io.EOF) {
		errs = append(errs, err)
	}
	// Only the first document counts (Prometheus logs a warning about the
	// others; a library does not log).
	wg.Wait()
	if nodeErr != nil {
		errs = append(errs, nodeErr)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &groups, groups.validate(nodes)
}

// ParseFile is Parse of a file; every error is prefixed with the file name.
func ParseFile(file string, ignoreUnknownFields bool) (*RuleGroups, []error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", file, err)}
	}
	groups, errs := Parse(b, ignoreUnknownFields)
	for i := range errs {
		errs[i] = fmt.Errorf("%s: %w", file, errs[i])
	}
	return groups, errs
}

// validate checks every group and rule; nodes is the positional mirror of g.
func (g *RuleGroups) validate(nodes ruleGroups) (errs []error) {
	seen := map[string]bool{}
	for j, grp := range g.Groups {
		node := nodes.Groups[j]
		if grp.Name == "" {
			errs = append(errs, invalidf("%d:%d: Groupname must not be empty", node.Line, node.Column))
		}
		if seen[grp.Name] {
			errs = append(errs, invalidf("%d:%d: groupname: %q is repeated in the same file", node.Line, node.Column, grp.Name))
		}
		seen[grp.Name] = true
		for _, k := range sortedKeys(grp.Labels) {
			if !validLabelName(k) || k == model.MetricName {
				errs = append(errs, invalidf("invalid label name: %s", k))
			}
			if !utf8.ValidString(grp.Labels[k]) {
				errs = append(errs, invalidf("invalid label value: %s", grp.Labels[k]))
			}
		}
		exprs := parseAll(grp.Rules)
		for i := range grp.Rules {
			r := &grp.Rules[i]
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			for _, we := range r.validate(node.Rules[i], exprs[i]) {
				errs = append(errs, &Error{Group: grp.Name, Rule: i + 1, RuleName: name, Err: we})
			}
		}
	}
	return errs
}

func invalidf(format string, a ...any) error {
	return &WrappedError{err: fmt.Errorf(format, a...)}
}

// parsed is one rule's expression parsed, or why it did not parse.
type parsed struct {
	expr parser.Expr
	err  error
}

// parseAll parses the rules' expressions on every core: parsing is most of
// the cost of loading a large rule file, and each expression stands alone.
func parseAll(rules []Rule) []parsed {
	out := make([]parsed, len(rules))
	workers := min(runtime.GOMAXPROCS(0), len(rules)/64+1)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rules); i += workers {
				if rules[i].Expr != "" {
					out[i].expr, out[i].err = parser.ParseExpr(rules[i].Expr)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// Validate checks one rule against its positional mirror.
func (r *Rule) Validate(node RuleNode) []WrappedError {
	var p parsed
	if r.Expr != "" {
		p.expr, p.err = parser.ParseExpr(r.Expr)
	}
	return r.validate(node, p)
}

func (r *Rule) validate(node RuleNode, p parsed) (errs []WrappedError) {
	add := func(err error, n, alt *yaml.Node) { errs = append(errs, WrappedError{err: err, node: n, nodeAlt: alt}) }
	if r.Record != "" && r.Alert != "" {
		add(errors.New("only one of 'record' and 'alert' must be set"), &node.Record, &node.Alert)
	}
	if r.Record == "" && r.Alert == "" {
		add(errors.New("one of 'record' or 'alert' must be set"), &node.Record, &node.Alert)
	}
	if r.Expr == "" {
		add(errors.New("field 'expr' must be set in rule"), &node.Expr, nil)
	} else if p.err != nil {
		add(fmt.Errorf("could not parse expression: %w", p.err), &node.Expr, nil)
	} else {
		r.parsed = p.expr
	}
	if r.Record != "" {
		if len(r.Annotations) > 0 {
			add(errors.New("invalid field 'annotations' in recording rule"), &node.Record, nil)
		}
		if r.For != 0 {
			add(errors.New("invalid field 'for' in recording rule"), &node.Record, nil)
		}
		if r.KeepFiringFor != 0 {
			add(errors.New("invalid field 'keep_firing_for' in recording rule"), &node.Record, nil)
		}
		if !validLabelName(r.Record) {
			add(fmt.Errorf("invalid recording rule name: %s", r.Record), &node.Record, nil)
		}
		// A common mistake: a selector where the name should be.
		if strings.ContainsAny(r.Record, "{}") {
			add(fmt.Errorf("braces present in the recording rule name; should it be in expr?: %s", r.Record), &node.Record, nil)
		}
	}
	for _, k := range sortedKeys(r.Labels) {
		if !validLabelName(k) || k == model.MetricName {
			add(fmt.Errorf("invalid label name: %s", k), nil, nil)
		}
		if !utf8.ValidString(r.Labels[k]) {
			add(fmt.Errorf("invalid label value: %s", r.Labels[k]), nil, nil)
		}
	}
	for _, k := range sortedKeys(r.Annotations) {
		if !validLabelName(k) {
			add(fmt.Errorf("invalid annotation name: %s", k), nil, nil)
		}
	}
	if r.Alert != "" {
		// Templates are parsed now, so a typo is found at load time and not
		// when the alert fires.
		parseTest := func(text string) error { return template.CheckAlert(text, r.Alert) }
		for _, k := range sortedKeys(r.Labels) {
			if err := parseTest(r.Labels[k]); err != nil {
				add(fmt.Errorf("label %q: %w", k, err), nil, nil)
			}
		}
		for _, k := range sortedKeys(r.Annotations) {
			if err := parseTest(r.Annotations[k]); err != nil {
				add(fmt.Errorf("annotation %q: %w", k, err), nil, nil)
			}
		}
	}
	return errs
}

// validLabelName is Prometheus 3's rule for label and metric names: any
// non-empty UTF-8 string.
func validLabelName(s string) bool { return s != "" && utf8.ValidString(s) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
