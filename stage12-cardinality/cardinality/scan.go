package cardinality

import (
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// Exact are exact counts of a set of series: the oracle the estimates
// are shown beside.
type Exact struct {
	Series  int
	Metrics map[string]int
	// Values are the distinct values per metric and label name.
	Values map[string]map[string]int
}

// Counter counts series exactly (a set of label sets per metric, and of
// values per label): what the HLLs replace, kept where the exact figure
// is affordable (the demo, a scan of one data dir).
type Counter struct {
	seen   map[string]map[uint64][]model.Labels // metric → hash → label sets
	values map[string]map[string]map[string]struct{}
	n      int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter {
	return &Counter{seen: map[string]map[uint64][]model.Labels{}, values: map[string]map[string]map[string]struct{}{}}
}

// Add counts a series; it reports whether it was new.
func (c *Counter) Add(lset model.Labels, hash uint64) bool {
	metric := lset.Name()
	m := c.seen[metric]
	if m == nil {
		m = map[uint64][]model.Labels{}
		c.seen[metric] = m
	}
	for _, o := range m[hash] {
		if o.Equal(lset) {
			return false
		}
	}
	m[hash] = append(m[hash], lset)
	c.n++
	vs := c.values[metric]
	if vs == nil {
		vs = map[string]map[string]struct{}{}
		c.values[metric] = vs
	}
	for l := range lset.All() {
		if l.Name == model.MetricName {
			continue
		}
		if vs[l.Name] == nil {
			vs[l.Name] = map[string]struct{}{}
		}
		vs[l.Name][l.Value] = struct{}{}
	}
	return true
}

// Exact returns the counts so far.
func (c *Counter) Exact() Exact {
	e := Exact{Series: c.n, Metrics: map[string]int{}, Values: map[string]map[string]int{}}
	for metric, m := range c.seen {
		n := 0
		for _, ls := range m {
			n += len(ls)
		}
		e.Metrics[metric] = n
		e.Values[metric] = map[string]int{}
		for name, vs := range c.values[metric] {
			e.Values[metric][name] = len(vs)
		}
	}
	return e
}

// Scan feeds every series stored in db (head and blocks, as a querier
// over all time sees them) into t as created series, and counts them
// exactly. It rebuilds a tracker for a data dir that has none, and gives
// the exact figures to show beside a tracker's estimates. t may be nil.
func Scan(db *tsdb.DB, t *Tracker) (Exact, error) {
	q, err := db.Querier(math.MinInt64/4, math.MaxInt64/4)
	if err != nil {
		return Exact{}, fmt.Errorf("cardinality: scan: %w", err)
	}
	defer q.Close()
	c := NewCounter()
	ss := q.Select(index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+"))
	for ss.Next() {
		ls := ss.At().Labels()
		h := ls.Hash()
		if c.Add(ls, h) && t != nil {
			t.SeriesCreated(ls, h)
		}
	}
	if err := ss.Err(); err != nil {
		return Exact{}, fmt.Errorf("cardinality: scan: %w", err)
	}
	return c.Exact(), nil
}
