// Package ruletest is promtool's `check rules` and `test rules` for this
// stage's rules package: the same inputs, the same output and the same exit
// statuses, so a CI job that runs promtool on a repository of rule files can
// run this instead (compare/ runs both on the same files and diffs them).
package ruletest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage14-alerts/rulefmt"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// Exit statuses, promtool's.
const (
	ExitSuccess = 0
	ExitFailure = 1
	ExitLint    = 3 // lint problems only, with LintFatal
)

// CheckOptions are `check rules`'s flags.
type CheckOptions struct {
	// NoLint turns the duplicate-rules lint off (--lint=none); by default
	// it is on, as in promtool.
	NoLint bool
	// LintFatal makes lint problems exit with ExitLint (--lint-fatal).
	LintFatal bool
	// IgnoreUnknownFields skips unknown keys (--ignore-unknown-fields).
	IgnoreUnknownFields bool
	// Prog names the program in the error about a file that does not
	// exist. Defaults to "promtool".
	Prog string
}

// missingFile reports the first file that does not exist as promtool's
// argument parser does, before anything is checked.
func missingFile(stderr io.Writer, prog string, files []string) bool {
	if prog == "" {
		prog = "promtool"
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			fmt.Fprintf(stderr, "%s: error: path '%s' does not exist, try --help\n", prog, f)
			return true
		}
	}
	return false
}

var errLint = errors.New("lint error")

// CheckRules validates rule files as `promtool check rules FILE...` does,
// or the content of stdin when no file is given, and returns the exit
// status. Progress goes to stdout, problems to stderr.
func CheckRules(stdin io.Reader, stdout, stderr io.Writer, opts CheckOptions, files ...string) int {
	if missingFile(stderr, opts.Prog, files) {
		return ExitFailure
	}
	failed, hasErrors := false, false
	check := func(name string, parse func() (*rulefmt.RuleGroups, []error)) {
		fmt.Fprintln(stdout, "Checking", name)
		rgs, errs := parse()
		if errs != nil {
			failed, hasErrors = true, true
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			return
		}
		n, lintErrs := checkGroups(rgs, opts)
		if lintErrs != nil {
			failed = true
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range lintErrs {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintf(stdout, "  SUCCESS: %d rules found\n", n)
		}
		fmt.Fprintln(stdout)
	}
	if len(files) == 0 {
		check("standard input", func() (*rulefmt.RuleGroups, []error) {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, []error{err}
			}
			return rulefmt.Parse(b, opts.IgnoreUnknownFields)
		})
	}
	for _, f := range files {
		check(f, func() (*rulefmt.RuleGroups, []error) { return rulefmt.ParseFile(f, opts.IgnoreUnknownFields) })
	}
	switch {
	case failed && hasErrors:
		return ExitFailure
	case failed && opts.LintFatal:
		return ExitLint
	}
	return ExitSuccess
}

// checkGroups counts the rules and lints for duplicates: two rules with the
// same name and the same labels (group labels included) write the same
// series, or the same alerts, and fight over them.
func checkGroups(rgs *rulefmt.RuleGroups, opts CheckOptions) (int, []error) {
	n := 0
	for _, g := range rgs.Groups {
		n += len(g.Rules)
	}
	if opts.NoLint {
		return n, nil
	}
	type key struct {
		metric string
		labels model.Labels
	}
	var keys []key
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			// Validated names and values: FromMaps cannot fail here.
			l, _ := rules.FromMaps(g.Labels, r.Labels)
			keys = append(keys, key{name, l})
		}
	}
	cmp := func(a, b key) int {
		if c := strings.Compare(a.metric, b.metric); c != 0 {
			return c
		}
		return a.labels.Compare(b.labels)
	}
	slices.SortFunc(keys, cmp)
	var dups []key
	for i := 1; i < len(keys); i++ {
		if cmp(keys[i-1], keys[i]) == 0 && (len(dups) == 0 || cmp(dups[len(dups)-1], keys[i]) != 0) {
			dups = append(dups, keys[i])
		}
	}
	if len(dups) == 0 {
		return n, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d duplicate rule(s) found.\n", len(dups))
	for _, d := range dups {
		fmt.Fprintf(&b, "Metric: %s\nLabel(s):\n", d.metric)
		for l := range d.labels.All() {
			fmt.Fprintf(&b, "\t%s: %s\n", l.Name, l.Value)
		}
	}
	b.WriteString("Might cause inconsistency while recording expressions")
	return 0, []error{fmt.Errorf("%w %s", errLint, b.String())}
}
