package notify

import (
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Route is a node of the routing tree with its options resolved: a child
// inherits what it does not set from its parent.
type Route struct {
	parent   *Route
	Matchers Matchers
	Continue bool
	Routes   []*Route
	// idx numbers the routes depth-first, children before parents: each
	// route's aggregation groups live under its number.
	idx int

	Receiver       string
	GroupBy        map[string]bool
	GroupByAll     bool // group_by: ['...']: every label
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
}

// NewRoute builds the tree of a validated configuration's root route.
func NewRoute(rc *RouteConfig) *Route {
	n := 0
	return newRoute(rc, nil, &n)
}

func newRoute(rc *RouteConfig, parent *Route, n *int) *Route {
	r := &Route{
		parent:         parent,
		Continue:       rc.Continue,
		Receiver:       rc.Receiver,
		GroupBy:        map[string]bool{},
		GroupWait:      DefaultGroupWait,
		GroupInterval:  DefaultGroupInterval,
		RepeatInterval: DefaultRepeatInterval,
	}
	if parent != nil {
		r.GroupBy, r.GroupByAll = parent.GroupBy, parent.GroupByAll
		r.GroupWait, r.GroupInterval, r.RepeatInterval = parent.GroupWait, parent.GroupInterval, parent.RepeatInterval
		if r.Receiver == "" {
			r.Receiver = parent.Receiver
		}
	}
	if rc.GroupBy != nil {
		r.GroupBy, r.GroupByAll = map[string]bool{}, false
		for _, l := range rc.GroupBy {
			if l == "..." {
				r.GroupByAll = true
			} else {
				r.GroupBy[l] = true
			}
		}
	}
	if rc.GroupWait != nil {
		r.GroupWait = time.Duration(*rc.GroupWait)
	}
	if rc.GroupInterval != nil {
		r.GroupInterval = time.Duration(*rc.GroupInterval)
	}
	if rc.RepeatInterval != nil {
		r.RepeatInterval = time.Duration(*rc.RepeatInterval)
	}
	// Validated already: the matchers parse.
	r.Matchers, _ = allMatchers(rc.Match, rc.MatchRE, rc.Matchers)
	for _, c := range rc.Routes {
		r.Routes = append(r.Routes, newRoute(c, r, n))
	}
	r.idx = *n
	*n++
	return r
}

// Match returns the routes an alert with labels l goes to: depth first,
// left to right, the deepest matching routes; a route stops its siblings
// after it from being tried unless it has continue: true. A route none of
// whose children match is itself the match.
func (r *Route) Match(l model.Labels) []*Route {
	if !r.Matchers.Matches(l) {
		return nil
	}
	var all []*Route
	for _, c := range r.Routes {
		m := c.Match(l)
		all = append(all, m...)
		if m != nil && !c.Continue {
			break
		}
	}
	if len(all) == 0 {
		all = append(all, r)
	}
	return all
}

// Key is the route's part of a group key: its matchers and its
// ancestors', "{}/{severity="page"}".
func (r *Route) Key() string {
	var b strings.Builder
	if r.parent != nil {
		b.WriteString(r.parent.Key())
		b.WriteByte('/')
	}
	b.WriteString(r.Matchers.String())
	return b.String()
}

// Walk visits the tree depth first, parents before children.
func (r *Route) Walk(f func(*Route)) {
	f(r)
	for _, c := range r.Routes {
		c.Walk(f)
	}
}

// groupLabels are the labels of l that the route groups by.
func (r *Route) groupLabels(l model.Labels) model.Labels {
	if r.GroupByAll {
		return l
	}
	pairs := make([]model.Label, 0, len(r.GroupBy))
	for x := range l.All() {
		if r.GroupBy[x.Name] {
			pairs = append(pairs, x)
		}
	}
	out, _ := model.New(pairs...)
	return out
}
