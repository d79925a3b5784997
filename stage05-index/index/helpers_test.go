package index

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// oracle is the brute-force model the index is checked against: the label
// sets by ID, and a matcher evaluated on each one from its definition (an
// absent label is ""; a regexp is anchored with '.' matching newlines),
// without postings, fast paths or the package's Matcher.Matches.
type oracle struct {
	series map[SeriesID]model.Labels
}

func newOracle() *oracle { return &oracle{series: map[SeriesID]model.Labels{}} }

// oracleMatch evaluates one matcher on a value by its definition.
func oracleMatch(m *Matcher, v string) bool { return oracleMatcher(m)(v) }

// oracleMatcher returns the matcher's definition as a function.
func oracleMatcher(m *Matcher) func(string) bool {
	switch m.Type() {
	case MatchEqual:
		return func(v string) bool { return v == m.Value() }
	case MatchNotEqual:
		return func(v string) bool { return v != m.Value() }
	}
	re := regexp.MustCompile("^(?s:" + m.Value() + ")$")
	return func(v string) bool { return re.MatchString(v) == (m.Type() == MatchRegexp) }
}

// selectIDs scans every series.
func (o *oracle) selectIDs(ms []*Matcher) []SeriesID {
	res := []SeriesID{}
	memo := map[string]map[string]bool{} // memo per matcher and value: the regexps are slow
	for id, ls := range o.series {
		ok := true
		for _, m := range ms {
			key := m.String()
			if memo[key] == nil {
				memo[key] = map[string]bool{}
			}
			v := ls.Get(m.Name())
			r, seen := memo[key][v]
			if !seen {
				r = oracleMatch(m, v)
				memo[key][v] = r
			}
			if !r {
				ok = false
				break
			}
		}
		if ok {
			res = append(res, id)
		}
	}
	slices.Sort(res)
	return res
}

// labelValues is the sorted distinct values of name.
func (o *oracle) labelValues(name string) []string {
	set := map[string]bool{}
	for _, ls := range o.series {
		if v := ls.Get(name); v != "" {
			set[v] = true
		}
	}
	var vs []string
	for v := range set {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// counts is, for each value of a label, the number of series with it.
func (o *oracle) counts(name string) map[string]int {
	n := map[string]int{}
	for _, ls := range o.series {
		if v := ls.Get(name); v != "" {
			n[v]++
		}
	}
	return n
}

// labelNames is the sorted distinct names.
func (o *oracle) labelNames() []string {
	set := map[string]bool{}
	for _, ls := range o.series {
		for l := range ls.All() {
			set[l.Name] = true
		}
	}
	var ns []string
	for n := range set {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// smallUniverse is the label vocabulary of the random tests: few names and
// values, so that queries hit, and labels often absent.
var smallUniverse = map[string][]string{
	"__name__": {"cpu", "mem", "disk", "net"},
	"region":   {"us-east", "us-west", "eu-west", "eu-central"},
	"env":      {"prod", "production", "staging", "dev"},
	"host":     {"a", "b", "c", "ab", "abc", "b.c", "x\ny", "é"},
	"code":     {"200", "201", "404", "500", "503"},
}

// randomLabels draws a label set: each label present with probability 3/4.
func randomLabels(r *rand.Rand) model.Labels {
	var pairs []model.Label
	for _, name := range []string{"__name__", "region", "env", "host", "code"} {
		if r.IntN(4) > 0 {
			vs := smallUniverse[name]
			pairs = append(pairs, model.Label{Name: name, Value: vs[r.IntN(len(vs))]})
		}
	}
	if len(pairs) == 0 {
		pairs = append(pairs, model.Label{Name: "__name__", Value: "up"})
	}
	ls, err := model.New(pairs...)
	if err != nil {
		panic(err)
	}
	return ls
}

// randomMatcher draws a matcher of any type, with values chosen to exercise
// every fast path and the general regexp path, on present and absent labels.
func randomMatcher(r *rand.Rand, values func(name string) []string) *Matcher {
	return randomMatcherOf(r, []string{"__name__", "region", "env", "host", "code", "absent"}, values)
}

// randomMatcherOf draws a matcher on one of names.
func randomMatcherOf(r *rand.Rand, names []string, values func(name string) []string) *Matcher {
	name := names[r.IntN(len(names))]
	vs := values(name)
	pick := func() string {
		if len(vs) == 0 || r.IntN(8) == 0 {
			return []string{"", "nope", "x"}[r.IntN(3)]
		}
		return vs[r.IntN(len(vs))]
	}
	t := MatchType(r.IntN(4))
	var v string
	if t == MatchEqual || t == MatchNotEqual {
		v = pick()
	} else {
		switch r.IntN(9) {
		case 0: // literal alternation, sometimes with the empty alternative
			alts := []string{regexp.QuoteMeta(pick()), regexp.QuoteMeta(pick())}
			if r.IntN(3) == 0 {
				alts = append(alts, "")
			}
			v = strings.Join(alts, "|")
		case 1: // prefix
			p := []rune(pick())
			v = regexp.QuoteMeta(string(p[:r.IntN(len(p)+1)])) + ".*"
		case 2:
			v = ".*"
		case 3:
			v = ".+"
		case 4: // contains
			p := []rune(pick())
			v = ".*" + regexp.QuoteMeta(string(p[len(p)/2:])) + ".*"
		case 5: // literal prefix then a class
			p := []rune(pick())
			v = regexp.QuoteMeta(string(p[:len(p)/2])) + "[a-z0-9-]*"
		case 6:
			v = "(?i)" + strings.ToUpper(pick())
		case 7:
			v = regexp.QuoteMeta(pick())
		default:
			v = "[a-e].?.?|" + regexp.QuoteMeta(pick())
		}
	}
	return MustNewMatcher(t, name, v)
}

// ids returns the bitmap's IDs, never nil.
func ids(s []uint32) []SeriesID {
	if s == nil {
		return []SeriesID{}
	}
	return s
}

func fmtMatchers(ms []*Matcher) string {
	var b []string
	for _, m := range ms {
		b = append(b, m.String())
	}
	return "{" + strings.Join(b, ", ") + "}"
}

// checkSelect compares the index's answer, computed both ways, with the oracle's.
func checkSelect(t *testing.T, ix *Index, o *oracle, ms []*Matcher) {
	t.Helper()
	want := o.selectIDs(ms)
	for _, filter := range []bool{true, false} {
		ix.noSeriesFilter = !filter
		got := ids(ix.Select(ms...).ToArray())
		if !slices.Equal(got, want) {
			t.Fatalf("Select%s (series filter %v): %d ids, oracle %d\n got  %v\n want %v",
				fmtMatchers(ms), filter, len(got), len(want), head(got), head(want))
		}
	}
	ix.noSeriesFilter = false
}

func head(s []SeriesID) string {
	if len(s) > 12 {
		return fmt.Sprint(s[:12]) + "…"
	}
	return fmt.Sprint(s)
}
