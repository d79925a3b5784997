package index

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

func TestAddLookupLabels(t *testing.T) {
	ix := New()
	a := model.MustFromStrings("__name__", "cpu", "host", "a")
	b := model.MustFromStrings("__name__", "cpu", "host", "b")
	for i, c := range []struct {
		ls      model.Labels
		id      SeriesID
		created bool
	}{{a, 0, true}, {b, 1, true}, {a, 0, false}, {model.MustFromStrings("host", "a", "__name__", "cpu"), 0, false}} {
		id, created, err := ix.Add(c.ls)
		if err != nil || id != c.id || created != c.created {
			t.Fatalf("step %d: Add(%v) = %d, %v, %v; want %d, %v", i, c.ls, id, created, err, c.id, c.created)
		}
	}
	if got, ok := ix.Labels(1); !ok || !got.Equal(b) {
		t.Fatalf("Labels(1) = %v, %v", got, ok)
	}
	if _, ok := ix.Labels(2); ok {
		t.Fatal("Labels of an unknown ID")
	}
	if id, ok := ix.Lookup(b); !ok || id != 1 {
		t.Fatalf("Lookup(b) = %d, %v", id, ok)
	}
	if _, ok := ix.Lookup(model.MustFromStrings("__name__", "cpu")); ok {
		t.Fatal("Lookup of a subset succeeded")
	}
	if _, _, err := ix.Add(model.Labels{}); !errors.Is(err, ErrEmptyLabels) {
		t.Fatalf("Add(empty) error %v", err)
	}
	if got := ix.LabelNames(); !slices.Equal(got, []string{"__name__", "host"}) {
		t.Fatalf("LabelNames %v", got)
	}
	if got := ix.LabelValues("host"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("LabelValues %v", got)
	}
	if ix.LabelValues("nope") != nil {
		t.Fatal("values of an unknown name")
	}
}

func TestDeleteAndReAdd(t *testing.T) {
	ix := New()
	a := model.MustFromStrings("__name__", "cpu", "host", "a", "rare", "x")
	b := model.MustFromStrings("__name__", "cpu", "host", "b")
	ix.Add(a)
	ix.Add(b)
	if !ix.Delete(0) || ix.Delete(0) || ix.Delete(7) {
		t.Fatal("Delete results wrong")
	}
	if _, ok := ix.Lookup(a); ok {
		t.Fatal("deleted series still found")
	}
	if got := ix.LabelNames(); !slices.Equal(got, []string{"__name__", "host"}) {
		t.Fatalf("after delete LabelNames %v (rare should be gone)", got)
	}
	if got := ix.LabelValues("host"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after delete LabelValues %v", got)
	}
	// IDs are not reused: a comes back as 2.
	if id, created, _ := ix.Add(a); id != 2 || !created {
		t.Fatalf("re-Add = %d, %v; want 2, true", id, created)
	}
	if got := ix.Select(MustNewMatcher(MatchEqual, "rare", "x")).ToArray(); !slices.Equal(got, []uint32{2}) {
		t.Fatalf("rare=x selects %v", got)
	}
	if ix.Len() != 2 || ix.NextID() != 3 {
		t.Fatalf("Len %d NextID %d", ix.Len(), ix.NextID())
	}
}

// TestRandomWorkload adds and deletes random series and checks every answer
// (Select with both evaluation strategies, Labels, LabelNames, LabelValues)
// against the oracle, across many pages of the series store, so that page
// compaction and freeing happen.
func TestRandomWorkload(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix, o := New(), newOracle()
	var live []SeriesID
	for step := range 30000 {
		if len(live) > 0 && r.IntN(3) == 0 {
			k := r.IntN(len(live))
			id := live[k]
			live = slices.Delete(live, k, k+1)
			if !ix.Delete(id) {
				t.Fatalf("Delete(%d) = false", id)
			}
			delete(o.series, id)
		} else {
			ls := randomLabels(r)
			if step%2 == 0 { // make all distinct, so that the population grows
				ls, _ = ls.With("seq", string(rune('a'+step%26))+string(rune('a'+step/26%26))+string(rune('a'+step/676)))
			}
			id, created, err := ix.Add(ls)
			if err != nil {
				t.Fatal(err)
			}
			if created {
				if _, dup := o.series[id]; dup {
					t.Fatalf("ID %d reused", id)
				}
				o.series[id] = ls
				live = append(live, id)
			} else if !o.series[id].Equal(ls) {
				t.Fatalf("Add(%v) returned %d which is %v", ls, id, o.series[id])
			}
		}
		if step%1500 == 0 {
			checkAll(t, ix, o, r)
		}
	}
	checkAll(t, ix, o, r)
}

func checkAll(t *testing.T, ix *Index, o *oracle, r *rand.Rand) {
	t.Helper()
	if ix.Len() != len(o.series) {
		t.Fatalf("Len %d, oracle %d", ix.Len(), len(o.series))
	}
	for id, ls := range o.series {
		if got, ok := ix.Labels(id); !ok || !got.Equal(ls) {
			t.Fatalf("Labels(%d) = %v, want %v", id, got, ls)
		}
	}
	if got, want := ix.LabelNames(), o.labelNames(); !slices.Equal(got, want) {
		t.Fatalf("LabelNames %v, want %v", got, want)
	}
	for _, name := range o.labelNames() {
		if got, want := ix.LabelValues(name), o.labelValues(name); !slices.Equal(got, want) {
			t.Fatalf("LabelValues(%s) %v, want %v", name, got, want)
		}
		for v, want := range o.counts(name) {
			if got := ix.Count(name, v); got != want {
				t.Fatalf("Count(%s, %s) = %d, want %d", name, v, got, want)
			}
		}
		if got := ix.Count(name, "no such value"); got != 0 {
			t.Fatalf("Count(%s, absent) = %d", name, got)
		}
	}
	if got := ix.Count("no such name", "x"); got != 0 {
		t.Fatalf("Count(absent name) = %d", got)
	}
	for range 40 {
		ms := make([]*Matcher, 1+r.IntN(3))
		for i := range ms {
			ms[i] = randomMatcher(r, o.labelValues)
		}
		checkSelect(t, ix, o, ms)
	}
	checkSelect(t, ix, o, nil)
}

func TestSelectSemantics(t *testing.T) {
	ix, o := New(), newOracle()
	for _, s := range [][]string{
		{"__name__", "cpu", "env", "prod", "host", "a"},
		{"__name__", "cpu", "env", "dev", "host", "b"},
		{"__name__", "cpu", "host", "c"}, // no env
		{"__name__", "mem", "env", "prod"},
	} {
		ls := model.MustFromStrings(s...)
		id, _, _ := ix.Add(ls)
		o.series[id] = ls
	}
	cases := []struct {
		ms   []*Matcher
		want []SeriesID
	}{
		{[]*Matcher{MustNewMatcher(MatchEqual, "env", "prod")}, []SeriesID{0, 3}},
		{[]*Matcher{MustNewMatcher(MatchNotEqual, "env", "prod")}, []SeriesID{1, 2}},   // includes the series without env
		{[]*Matcher{MustNewMatcher(MatchEqual, "env", "")}, []SeriesID{2}},             // only the series without env
		{[]*Matcher{MustNewMatcher(MatchNotEqual, "env", "")}, []SeriesID{0, 1, 3}},    // has env
		{[]*Matcher{MustNewMatcher(MatchRegexp, "env", "pro")}, []SeriesID{}},          // anchored
		{[]*Matcher{MustNewMatcher(MatchRegexp, "env", "prod|")}, []SeriesID{0, 2, 3}}, // matches "" too
		{[]*Matcher{MustNewMatcher(MatchNotRegexp, "env", "d.*")}, []SeriesID{0, 2, 3}},
		{[]*Matcher{MustNewMatcher(MatchNotRegexp, "env", ".*")}, []SeriesID{}},
		{[]*Matcher{MustNewMatcher(MatchRegexp, "env", ".+")}, []SeriesID{0, 1, 3}},
		{[]*Matcher{MustNewMatcher(MatchRegexp, "nolabel", ".*")}, []SeriesID{0, 1, 2, 3}},
		{[]*Matcher{MustNewMatcher(MatchEqual, "nolabel", "x")}, []SeriesID{}},
		{[]*Matcher{MustNewMatcher(MatchEqual, "__name__", "cpu"), MustNewMatcher(MatchNotEqual, "host", "a")}, []SeriesID{1, 2}},
		{[]*Matcher{MustNewMatcher(MatchEqual, "__name__", "cpu"), MustNewMatcher(MatchEqual, "env", "prod"), MustNewMatcher(MatchEqual, "host", "b")}, []SeriesID{}},
		{nil, []SeriesID{0, 1, 2, 3}},
	}
	for _, c := range cases {
		for _, filter := range []bool{true, false} {
			ix.noSeriesFilter = !filter
			if got := ids(ix.Select(c.ms...).ToArray()); !slices.Equal(got, c.want) {
				t.Errorf("Select%s = %v, want %v", fmtMatchers(c.ms), got, c.want)
			}
		}
		if got := o.selectIDs(c.ms); !slices.Equal(got, c.want) { // the oracle agrees with the hand-written answers
			t.Errorf("oracle%s = %v, want %v", fmtMatchers(c.ms), got, c.want)
		}
	}
}

// TestSelectResultIsACopy checks that modifying a result leaves the index alone.
func TestSelectResultIsACopy(t *testing.T) {
	ix := New()
	ix.Add(model.MustFromStrings("a", "1"))
	ix.Add(model.MustFromStrings("a", "1", "b", "2"))
	bm := ix.Select(MustNewMatcher(MatchEqual, "a", "1"))
	bm.Clear()
	pb := ix.Postings("a", "1")
	pb.Add(99)
	all := ix.All()
	all.Clear()
	if got := ix.Select(MustNewMatcher(MatchEqual, "a", "1")).ToArray(); !slices.Equal(got, []uint32{0, 1}) {
		t.Fatalf("index changed through a result: %v", got)
	}
}

func TestStats(t *testing.T) {
	ix := New()
	ix.Add(model.MustFromStrings("__name__", "cpu", "host", "a"))
	ix.Add(model.MustFromStrings("__name__", "cpu", "host", "b"))
	ix.Add(model.MustFromStrings("__name__", "mem", "host", "a"))
	st := ix.Stats(1)
	if st.Series != 3 || st.LabelNames != 2 || st.LabelPairs != 4 || st.PostingsBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	if len(st.SeriesPerMetric) != 1 || st.SeriesPerMetric[0] != (Count{"cpu", 2}) {
		t.Fatalf("SeriesPerMetric %v", st.SeriesPerMetric)
	}
	if st.SeriesPerPair[0] != (Count{"__name__=cpu", 2}) {
		t.Fatalf("SeriesPerPair %v", st.SeriesPerPair) // ties broken by name: __name__=cpu before host=a
	}
	if st.ValuesPerName[0] != (Count{"__name__", 2}) {
		t.Fatalf("ValuesPerName %v", st.ValuesPerName)
	}
}

// TestSinglePostings follows one pair through its two forms (postings.go):
// a single ID while one series has it, a bitmap from the second series on,
// a single ID again when deletes leave one, gone with the last; and checks
// Select, Postings, Stats and a file round trip against the oracle at each
// step.
func TestSinglePostings(t *testing.T) {
	ix, o := New(), newOracle()
	add := func(kv ...string) SeriesID {
		t.Helper()
		ls := model.MustFromStrings(kv...)
		id, created, err := ix.Add(ls)
		if err != nil || !created {
			t.Fatalf("Add(%v) = %d, %v, %v", ls, id, created, err)
		}
		o.series[id] = ls
		return id
	}
	del := func(id SeriesID) {
		t.Helper()
		if !ix.Delete(id) {
			t.Fatalf("Delete(%d) = false", id)
		}
		delete(o.series, id)
	}
	// form checks the representation of inst=x and everything the oracle
	// can check, in ix and in ix read back from a file.
	form := func(step string, want []SeriesID, single bool) {
		t.Helper()
		for _, x := range []*Index{ix, roundTripBytes(t, ix)} {
			var r uint32
			var ok bool
			if ln := x.names["inst"]; ln != nil {
				r, ok = ln.values.get(&x.pairs, "x")
			}
			if len(want) == 0 {
				if ok {
					t.Fatalf("%s: inst=x still indexed", step)
				}
			} else if !ok || (x.pairs.at(r).postings == nil) != single {
				t.Fatalf("%s: inst=x present %v, single %v, want single %v", step, ok, ok && x.pairs.at(r).postings == nil, single)
			}
			if got := x.Postings("inst", "x").ToArray(); !slices.Equal(got, want) && len(got)+len(want) > 0 {
				t.Fatalf("%s: Postings(inst=x) = %v, want %v", step, got, want)
			}
			st := x.Stats(100)
			for _, c := range st.SeriesPerPair {
				if c.Name == "inst=x" && c.Count != uint64(len(want)) {
					t.Fatalf("%s: Stats counts %d series for inst=x, want %d", step, c.Count, len(want))
				}
			}
		}
		for _, ms := range [][]*Matcher{
			{MustNewMatcher(MatchEqual, "inst", "x")},
			{MustNewMatcher(MatchEqual, "inst", "x"), MustNewMatcher(MatchEqual, "job", "a")},
			{MustNewMatcher(MatchEqual, "job", "a"), MustNewMatcher(MatchEqual, "inst", "y")},
			{MustNewMatcher(MatchEqual, "inst", "x"), MustNewMatcher(MatchEqual, "inst2", "z")},
			{MustNewMatcher(MatchRegexp, "inst", "x|y")},
			{MustNewMatcher(MatchRegexp, "inst", ".+"), MustNewMatcher(MatchEqual, "job", "b")},
			{MustNewMatcher(MatchNotEqual, "inst", "x")},
			{MustNewMatcher(MatchNotRegexp, "inst", "y|z"), MustNewMatcher(MatchEqual, "job", "a")},
		} {
			checkSelect(t, ix, o, ms)
		}
	}
	a := add("inst", "x", "job", "a")
	add("inst", "y", "job", "a", "inst2", "z")
	form("one series", []SeriesID{a}, true)
	b := add("inst", "x", "job", "b")
	form("second series", []SeriesID{a, b}, false)
	c := add("inst", "x", "job", "c", "inst2", "z")
	form("third series", []SeriesID{a, b, c}, false)
	del(a)
	del(c)
	form("deletes leave one", []SeriesID{b}, true)
	d := add("inst", "x", "job", "a")
	form("a second one again", []SeriesID{b, d}, false)
	del(b)
	del(d)
	form("all deleted", nil, false)
	e := add("inst", "x", "job", "d")
	form("back", []SeriesID{e}, true)
}

// TestAddHashLookupHash checks the hashed forms against Add and Lookup, and
// the collision path: two label sets given the same hash both stay findable,
// also after the first is deleted.
func TestAddHashLookupHash(t *testing.T) {
	ix := New()
	a := model.MustFromStrings("__name__", "cpu", "host", "a")
	b := model.MustFromStrings("__name__", "cpu", "host", "b")
	c := model.MustFromStrings("__name__", "mem", "host", "a")
	if _, ok := ix.LookupHash(a.Hash(), a); ok {
		t.Fatal("empty index found a")
	}
	ida, created, err := ix.AddHash(a.Hash(), a)
	if err != nil || !created {
		t.Fatalf("AddHash(a) = %d, %v, %v", ida, created, err)
	}
	if id, created, _ := ix.Add(a); id != ida || created {
		t.Fatalf("Add(a) after AddHash = %d, %v; want %d, false", id, created, ida)
	}
	if id, ok := ix.Lookup(a); !ok || id != ida {
		t.Fatalf("Lookup(a) = %d, %v", id, ok)
	}
	if _, _, err := ix.AddHash(1, model.Labels{}); !errors.Is(err, ErrEmptyLabels) {
		t.Fatalf("AddHash(empty) error = %v", err)
	}

	// b and c collide with each other on a made-up hash.
	const h = 42
	idb, created, err := ix.AddHash(h, b)
	if err != nil || !created {
		t.Fatalf("AddHash(b) = %d, %v, %v", idb, created, err)
	}
	idc, created, err := ix.AddHash(h, c)
	if err != nil || !created || idc == idb {
		t.Fatalf("AddHash(c) = %d, %v, %v (b is %d)", idc, created, err, idb)
	}
	for _, x := range []struct {
		ls model.Labels
		id SeriesID
	}{{b, idb}, {c, idc}} {
		if id, ok := ix.LookupHash(h, x.ls); !ok || id != x.id {
			t.Fatalf("LookupHash(%s) = %d, %v; want %d", x.ls, id, ok, x.id)
		}
		if id, created, _ := ix.AddHash(h, x.ls); id != x.id || created {
			t.Fatalf("AddHash(%s) again = %d, %v; want %d, false", x.ls, id, created, x.id)
		}
	}
	if _, ok := ix.LookupHash(h, a); ok {
		t.Fatal("LookupHash found a under a hash it does not have")
	}
	if got, _ := ix.Labels(idc); !got.Equal(c) {
		t.Fatalf("Labels(%d) = %s, want %s", idc, got, c)
	}
	// The collision path of forget: Delete uses the real hash, so delete a
	// (its own hash) and check the others are unaffected.
	if !ix.Delete(ida) {
		t.Fatal("Delete(a) = false")
	}
	if _, ok := ix.Lookup(a); ok {
		t.Fatal("a found after Delete")
	}
	if id, ok := ix.LookupHash(h, c); !ok || id != idc {
		t.Fatalf("LookupHash(c) after deleting a = %d, %v", id, ok)
	}
	if got := ix.Postings("host", "a").ToArray(); !slices.Equal(got, []uint32{uint32(idc)}) {
		t.Fatalf("postings host=a = %v, want [%d]", got, idc)
	}
}

// TestAddReusesGuessedPairs adds series that share some pairs with the one
// added before (internPair's guess), some not, and across a Delete that
// frees and reuses pair references: every series must read back as added.
func TestAddReusesGuessedPairs(t *testing.T) {
	ix := New()
	sets := []model.Labels{
		model.MustFromStrings("__name__", "up", "instance", "a", "job", "x"),
		model.MustFromStrings("__name__", "up", "instance", "b", "job", "x"),
		model.MustFromStrings("__name__", "up", "job", "x", "zone", "1"),
		model.MustFromStrings("__name__", "down", "instance", "b"),
		model.MustFromStrings("__name__", "up", "instance", "c", "job", "y"),
	}
	ids := make([]SeriesID, len(sets))
	for i, ls := range sets {
		ids[i], _, _ = ix.Add(ls)
	}
	// Frees the pairs instance=c and job=y (only series 4 has them), which
	// the next Add may reuse; scratch still names them.
	ix.Delete(ids[4])
	more := []model.Labels{
		model.MustFromStrings("__name__", "up", "instance", "d", "job", "z"),
		model.MustFromStrings("__name__", "up", "instance", "c", "job", "y"),
		model.MustFromStrings("__name__", "up", "instance", "c", "job", "x"),
	}
	for _, ls := range more {
		id, created, err := ix.Add(ls)
		if err != nil || !created {
			t.Fatalf("Add(%s) = %d, %v, %v", ls, id, created, err)
		}
		sets, ids = append(sets, ls), append(ids, id)
	}
	for i, ls := range sets {
		if i == 4 {
			continue
		}
		if got, ok := ix.Labels(ids[i]); !ok || !got.Equal(ls) {
			t.Fatalf("Labels(%d) = %s, want %s", ids[i], got, ls)
		}
		for l := range ls.All() {
			if !ix.Postings(l.Name, l.Value).Contains(uint32(ids[i])) {
				t.Fatalf("postings %s=%s miss series %d", l.Name, l.Value, ids[i])
			}
		}
	}
	if got := ix.LabelValues("job"); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("LabelValues(job) = %v", got)
	}
	if got := ix.Postings("job", "y").ToArray(); !slices.Equal(got, []uint32{uint32(ids[6])}) {
		t.Fatalf("postings job=y = %v, want [%d]", got, ids[6])
	}
}
