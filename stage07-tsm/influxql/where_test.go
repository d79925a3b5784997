package influxql

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// matchTags is the oracle for selectSeries: the WHERE clause evaluated on
// one series' tags directly (time conditions true, a missing tag is "").
func matchTags(o *Or, tags [][2]string) bool {
	for _, a := range o.And {
		ok := true
		for _, t := range a.Terms {
			switch {
			case t.Paren != nil:
				ok = matchTags(t.Paren, tags)
			case t.Tag != nil:
				v := ""
				for _, tg := range tags {
					if tg[0] == t.Tag.Key {
						v = tg[1]
					}
				}
				ok = (v == *t.Tag.Value.Str) == (t.Tag.Op == "=")
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestWhereMatchesOracle: random WHERE clauses (=, !=, AND, OR,
// parentheses, a time term, tags some series lack, values no series has)
// select, through the series index, exactly the series the oracle
// selects by looking at every series' tags.
func TestWhereMatchesOracle(t *testing.T) {
	e, err := tsm.Open(t.TempDir(), tsm.Options{WAL: wal.Options{Sync: wal.SyncNone}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(3, 5))
	vals := map[string][]string{"host": {"a", "b", "c", "d"}, "dc": {"x", "y"}, "rack": {"1", "2", "3"}}
	names := []string{"host", "dc", "rack", "zone"} // no series has zone
	b := tsm.NewBatch()
	var all [][2]any // series key, tags
	for i := range 60 {
		key := "m"
		var tags [][2]string
		for _, n := range []string{"dc", "host", "rack"} { // sorted: the key's tag order
			if rng.IntN(4) > 0 {
				v := vals[n][rng.IntN(len(vals[n]))]
				key += "," + n + "=" + v
				tags = append(tags, [2]string{n, v})
			}
		}
		if slices.ContainsFunc(all, func(x [2]any) bool { return x[0] == key }) {
			continue
		}
		all = append(all, [2]any{key, tags})
		b.Add([]byte(key+tsm.FieldSeparator+"v"), tsm.IntegerType, int64(i), 1, "")
	}
	b.Add([]byte("other,host=a"+tsm.FieldSeparator+"v"), tsm.IntegerType, 0, 1, "") // another measurement
	if err := e.WriteBatch(b); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Flush(); err != nil { // half the checks from files, half from the cache
		t.Fatal(err)
	}
	var term func(depth int) string
	term = func(depth int) string {
		switch r := rng.IntN(10); {
		case r == 0 && depth < 2:
			return "(" + where(rng, depth+1, term) + ")"
		default:
			n := names[rng.IntN(len(names))]
			v := "q"
			if vs := vals[n]; vs != nil && rng.IntN(5) > 0 {
				v = vs[rng.IntN(len(vs))]
			}
			op := "="
			if rng.IntN(3) == 0 {
				op = "!="
			}
			return fmt.Sprintf("%s %s '%s'", n, op, v)
		}
	}
	for i := range 300 {
		w := where(rng, 0, term)
		if i == 150 {
			// the rest against a reopened engine: the index rebuilt from the file
			e.Close()
			if e, err = tsm.Open(e.Dir(), tsm.Options{WAL: wal.Options{Sync: wal.SyncNone}}); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 1 { // time terms are only allowed ANDed with the rest
			w = "time > 0 AND (" + w + ")"
		}
		q, err := Parse("SELECT v FROM m WHERE " + w)
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		var want []string
		for _, s := range all {
			if matchTags(q.Where, s[1].([][2]string)) {
				want = append(want, s[0].(string))
			}
		}
		slices.Sort(want)
		ids, err := selectSeries(e, "m", q.Where)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for it := ids.Iterator(); it.HasNext(); {
			info, ok := e.Series(it.Next())
			if !ok {
				t.Fatalf("%s: unknown series ID", w)
			}
			got = append(got, info.Key)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("WHERE %s:\n got %v\nwant %v", w, got, want)
		}
	}
}

// where makes a random condition: 1-3 conjunctions of 1-3 terms.
func where(rng *rand.Rand, depth int, term func(int) string) string {
	var ors []string
	for range 1 + rng.IntN(3) {
		var ands []string
		for range 1 + rng.IntN(3) {
			ands = append(ands, term(depth))
		}
		ors = append(ors, strings.Join(ands, " AND "))
	}
	return strings.Join(ors, " OR ")
}
