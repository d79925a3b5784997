package influxql

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// Storage is what a query needs from an engine (tsm.Engine implements it):
// the series index, to turn the WHERE tag conditions into a set of series,
// and reads by storage key.
type Storage interface {
	// SelectSeries returns the series of measurement m whose tags satisfy
	// every matcher (all of m with none).
	SelectSeries(m string, ms ...*index.Matcher) *roaring.Bitmap
	// Series describes one series: its key, tags and fields.
	Series(id index.SeriesID) (tsm.SeriesInfo, bool)
	Read(key string, min, max int64) (tsm.Values, tsm.ReadStats, error)
}

// Result is a query's answer.
type Result struct {
	Series []Series
	// Points is the number of stored values the query read (after the time
	// range and merging), Stats what reading them touched.
	Points int
	Stats  tsm.ReadStats
	// SeriesScanned is the number of series keys matched by the WHERE tags.
	SeriesScanned int
}

// Series is one table of the result: raw queries give one per series
// (measurement + tag set); aggregate queries one for all matching series
// together, as InfluxDB does without GROUP BY <tag>.
type Series struct {
	Name    string
	Tags    [][2]string // nil for an aggregate over several series
	Columns []string    // "time", then one per field or aggregate
	Rows    []Row
}

// Row is one time and its values (nil where a field has no value).
type Row struct {
	Time   int64
	Values []any
}

// Run parses and executes q against s with now as now().
func Run(s Storage, q string, now time.Time) (*Result, error) {
	ast, err := Parse(q)
	if err != nil {
		return nil, err
	}
	return Exec(s, ast, now)
}

// TimeRange is the [min, max] (ns, inclusive) that the query's time
// conditions select, math.MinInt64 / math.MaxInt64 on an unbounded side. A
// planner (stage08's shard manager) needs it before execution.
func (q *Query) TimeRange(now time.Time) (min, max int64, err error) {
	min, max = math.MinInt64, math.MaxInt64
	if q.Where == nil {
		return min, max, nil
	}
	return timeRange(q.Where, now, min, max)
}

// Exec executes a parsed query.
func Exec(s Storage, q *Query, now time.Time) (*Result, error) {
	min, max, err := q.TimeRange(now)
	if err != nil {
		return nil, err
	}
	ids, err := selectSeries(s, q.From, q.Where)
	if err != nil {
		return nil, err
	}
	type series struct {
		key    string
		tags   [][2]string
		fields map[string]string // field → storage key
	}
	res := &Result{}
	matched := make([]*series, 0, ids.GetCardinality())
	types := map[string]tsm.Type{}
	for it := ids.Iterator(); it.HasNext(); {
		info, ok := s.Series(it.Next())
		if !ok {
			continue
		}
		se := &series{key: info.Key, tags: info.Tags, fields: make(map[string]string, len(info.Fields))}
		for _, f := range info.Fields {
			se.fields[f.Name] = f.Key
			types[f.Key] = f.Type
		}
		matched = append(matched, se)
	}
	// Series IDs follow arrival order; results are in series key order.
	slices.SortFunc(matched, func(a, b *series) int { return strings.Compare(a.key, b.key) })
	res.SeriesScanned = len(matched)

	if q.Fields[0].Call() != nil {
		return res, aggregate(s, q, matched2(matched, func(se *series) map[string]string { return se.fields }), types, min, max, res)
	}
	var want []string
	star := false
	for _, f := range q.Fields {
		if f.Star {
			star = true
		} else {
			want = append(want, f.Name)
		}
	}
	for _, se := range matched {
		fields := want
		if star {
			fields = fields[:0:0]
			for f := range se.fields {
				fields = append(fields, f)
			}
			sort.Strings(fields)
		}
		out := Series{Name: q.From, Tags: se.tags, Columns: append([]string{"time"}, fields...)}
		rows := map[int64][]any{}
		for i, f := range fields {
			k, ok := se.fields[f]
			if !ok {
				continue
			}
			v, st, err := s.Read(k, min, max)
			if err != nil {
				return nil, err
			}
			res.Stats.Add(st)
			res.Points += v.Len()
			for j := range v.T {
				r := rows[v.T[j]]
				if r == nil {
					r = make([]any, len(fields))
					rows[v.T[j]] = r
				}
				r[i] = value(&v, j)
			}
		}
		if len(rows) == 0 {
			continue
		}
		for t, vals := range rows {
			out.Rows = append(out.Rows, Row{Time: t, Values: vals})
		}
		slices.SortFunc(out.Rows, func(a, b Row) int { return cmpInt(a.Time, b.Time) })
		res.Series = append(res.Series, out)
	}
	return res, nil
}

func matched2[T any](xs []T, f func(T) map[string]string) []map[string]string {
	out := make([]map[string]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func value(v *tsm.Values, i int) any {
	switch v.Type {
	case tsm.FloatType:
		return v.Float(i)
	case tsm.IntegerType:
		return v.Int(i)
	case tsm.UnsignedType:
		return v.Uint(i)
	case tsm.BooleanType:
		return v.Bool(i)
	}
	return v.S[i]
}

// acc accumulates one aggregate over one window.
type acc struct {
	n             int
	sum, min, max float64
}

func (a *acc) add(x float64) {
	if a.n == 0 || x < a.min {
		a.min = x
	}
	if a.n == 0 || x > a.max {
		a.max = x
	}
	a.sum += x
	a.n++
}

func (a *acc) result(fn string) any {
	switch fn {
	case "count":
		return int64(a.n)
	case "sum":
		return a.sum
	case "min":
		return a.min
	case "max":
		return a.max
	}
	return a.sum / float64(a.n) // mean
}

// aggregate computes each call over all matched series, per GROUP BY time
// window (windows aligned to multiples of the duration since the epoch, as
// InfluxDB aligns them; only windows with data are returned).
func aggregate(s Storage, q *Query, series []map[string]string, types map[string]tsm.Type, min, max int64, res *Result) error {
	var every int64
	if q.GroupBy != nil {
		d, _ := ParseDuration(q.GroupBy.Duration)
		every = int64(d)
	}
	window := func(t int64) int64 {
		if every == 0 {
			if min == math.MinInt64 {
				return 0
			}
			return min
		}
		w := t - t%every
		if t%every < 0 {
			w -= every
		}
		return w
	}
	cols := []string{"time"}
	accs := map[int64][]acc{}
	for ci, f := range q.Fields {
		c := f.Call()
		cols = append(cols, c.Func+"("+c.Field+")")
		for _, fields := range series {
			k, ok := fields[c.Field]
			if !ok {
				continue
			}
			if t := types[k]; c.Func != "count" && (t == tsm.StringType || t == tsm.BooleanType) {
				return errAt(f.Pos, "%s() of %v field %s", c.Func, t, c.Field)
			}
			v, st, err := s.Read(k, min, max)
			if err != nil {
				return err
			}
			res.Stats.Add(st)
			res.Points += v.Len()
			for j := range v.T {
				w := window(v.T[j])
				a := accs[w]
				if a == nil {
					a = make([]acc, len(q.Fields))
					accs[w] = a
				}
				a[ci].add(v.Number(j))
			}
		}
	}
	out := Series{Name: q.From, Columns: cols}
	for w, a := range accs {
		row := Row{Time: w, Values: make([]any, len(a))}
		for i := range a {
			if a[i].n > 0 {
				row.Values[i] = a[i].result(q.Fields[i].Call().Func)
			}
		}
		out.Rows = append(out.Rows, row)
	}
	slices.SortFunc(out.Rows, func(a, b Row) int { return cmpInt(a.Time, b.Time) })
	if len(out.Rows) > 0 {
		res.Series = append(res.Series, out)
	}
	return nil
}

// timeRange intersects [min, max] with every time condition (all of them
// under AND: check made sure).
func timeRange(o *Or, now time.Time, min, max int64) (int64, int64, error) {
	for _, a := range o.And {
		for _, t := range a.Terms {
			switch {
			case t.Paren != nil:
				var err error
				if min, max, err = timeRange(t.Paren, now, min, max); err != nil {
					return 0, 0, err
				}
			case t.Time != nil:
				x, err := t.Time.Expr.eval(now)
				if err != nil {
					return 0, 0, err
				}
				switch t.Time.Op {
				case ">":
					min = maxInt(min, x+1)
				case ">=":
					min = maxInt(min, x)
				case "<":
					max = minInt(max, x-1)
				case "<=":
					max = minInt(max, x)
				case "=":
					min, max = maxInt(min, x), minInt(max, x)
				}
			}
		}
	}
	return min, max, nil
}

func maxInt(a, b int64) int64 { return max(a, b) }
func minInt(a, b int64) int64 { return min(a, b) }

// selectSeries evaluates the WHERE clause's tag conditions on the series
// index: in each conjunction the tag comparisons become matchers of one
// Select (stage05 orders them, smallest postings first), parenthesised
// parts are intersected with it, and the conjunctions of an OR are united.
// Time conditions select every series (they restrict the time range).
// A missing tag has the value "" (stage05's semantics, and InfluxDB's).
func selectSeries(s Storage, m string, o *Or) (*roaring.Bitmap, error) {
	if o == nil {
		return s.SelectSeries(m), nil
	}
	var res *roaring.Bitmap
	for _, a := range o.And {
		var ms []*index.Matcher
		var parts []*roaring.Bitmap
		for _, t := range a.Terms {
			switch {
			case t.Paren != nil:
				b, err := selectSeries(s, m, t.Paren)
				if err != nil {
					return nil, err
				}
				parts = append(parts, b)
			case t.Tag != nil:
				typ := index.MatchEqual
				if t.Tag.Op != "=" {
					typ = index.MatchNotEqual
				}
				mt, err := index.NewMatcher(typ, t.Tag.Key, *t.Tag.Value.Str)
				if err != nil {
					return nil, errAt(t.Pos, "%v", err)
				}
				ms = append(ms, mt)
			}
		}
		b := s.SelectSeries(m, ms...)
		for _, p := range parts {
			b.And(p)
		}
		if res == nil {
			res = b
		} else {
			res.Or(b)
		}
	}
	return res, nil
}

// Format writes a result as text tables (for the CLI).
func Format(r *Result, w *strings.Builder, maxRows int) {
	for _, s := range r.Series {
		fmt.Fprintf(w, "name: %s", s.Name)
		for _, t := range s.Tags {
			fmt.Fprintf(w, ", %s=%s", t[0], t[1])
		}
		fmt.Fprintf(w, "\n%s\n", strings.Join(s.Columns, "\t"))
		for i, row := range s.Rows {
			if maxRows > 0 && i == maxRows {
				fmt.Fprintf(w, "… %d more rows\n", len(s.Rows)-maxRows)
				break
			}
			fmt.Fprint(w, time.Unix(0, row.Time).UTC().Format(time.RFC3339Nano))
			for _, v := range row.Values {
				if v == nil {
					fmt.Fprint(w, "\t")
				} else {
					fmt.Fprintf(w, "\t%v", v)
				}
			}
			fmt.Fprintln(w)
		}
	}
}
