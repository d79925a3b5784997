package notify

import (
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// inhibitRule is an InhibitRule with its matchers parsed.
type inhibitRule struct {
	source, target Matchers
	equal          []string
}

func newInhibitRules(cfg []*InhibitRule) []*inhibitRule {
	out := make([]*inhibitRule, 0, len(cfg))
	for _, ir := range cfg {
		// Validated already: the matchers parse.
		src, _ := allMatchers(ir.SourceMatch, ir.SourceMatchRE, ir.SourceMatchers)
		tgt, _ := allMatchers(ir.TargetMatch, ir.TargetMatchRE, ir.TargetMatchers)
		out = append(out, &inhibitRule{source: src, target: tgt, equal: ir.Equal})
	}
	return out
}

// inhibitedBy returns the fingerprint of a firing alert that mutes an alert
// with labels l at now, if any: an alert matching a rule's source matchers
// whose equal labels have l's values (a label missing on both sides counts
// as equal). An alert matching both sides of a rule cannot be muted by
// another alert that does too, so a set of alerts never mutes itself
// entirely.
func inhibitedBy(rules []*inhibitRule, l model.Labels, firing []*Alert, now time.Time) (Fingerprint, bool) {
	for _, r := range rules {
		if !r.target.Matches(l) {
			continue
		}
		bothSides := r.source.Matches(l)
	next:
		for _, a := range firing {
			if a.Resolved(now) || !r.source.Matches(a.Labels) {
				continue
			}
			for _, n := range r.equal {
				if a.Labels.Get(n) != l.Get(n) {
					continue next
				}
			}
			if bothSides && r.target.Matches(a.Labels) {
				continue
			}
			return a.Fingerprint(), true
		}
	}
	return 0, false
}
