package tsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
)

// TestSeriesIndex: series from files and from the WAL replay are in the
// index after a reopen, with all their fields and types; tag matchers
// select by postings; a tag named like the measurement label is rejected
// before anything is written.
func TestSeriesIndex(t *testing.T) {
	dir := t.TempDir()
	opts := Options{WAL: wal.Options{Sync: wal.SyncNone}}
	e, err := Open(dir, opts)
	mustNoErr(t, err)
	write := func(keys ...string) {
		t.Helper()
		b := NewBatch()
		for _, k := range keys {
			typ := FloatType
			if k[len(k)-1] == 'i' {
				typ = IntegerType
			}
			b.Add([]byte(k), typ, 1, 1, "")
		}
		mustNoErr(t, e.WriteBatch(b))
	}
	write("cpu,dc=x,host=a#!~#user", "cpu,dc=x,host=a#!~#sys", "cpu,host=b#!~#user", "mem,host=a#!~#usedi")
	_, err = e.Flush()
	mustNoErr(t, err)
	write("cpu,dc=x,host=a#!~#idle", "cpu,dc=y,host=c#!~#user") // a new field of a known series; a new series (cache only)

	b := NewBatch()
	b.Add([]byte("cpu,__name__=z#!~#user"), FloatType, 1, 1, "")
	if err := e.WriteBatch(b); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("tag __name__: %v, want ErrInvalidKey", err)
	}
	mustNoErr(t, e.Close())

	e, err = Open(dir, opts) // index rebuilt: the file, then the WAL replay
	mustNoErr(t, err)
	defer e.Close()
	if n := e.seriesCount(); n != 4 {
		t.Fatalf("%d series, want 4", n)
	}
	keysOf := func(ms ...*index.Matcher) []string {
		var out []string
		for it := e.SelectSeries("cpu", ms...).Iterator(); it.HasNext(); {
			info, ok := e.Series(it.Next())
			if !ok {
				t.Fatal("selected series unknown")
			}
			out = append(out, info.Key)
		}
		slices.Sort(out)
		return out
	}
	eq := func(n, v string) *index.Matcher { return index.MustNewMatcher(index.MatchEqual, n, v) }
	ne := func(n, v string) *index.Matcher { return index.MustNewMatcher(index.MatchNotEqual, n, v) }
	for _, c := range []struct {
		ms   []*index.Matcher
		want []string
	}{
		{nil, []string{"cpu,dc=x,host=a", "cpu,dc=y,host=c", "cpu,host=b"}},
		{[]*index.Matcher{eq("host", "a")}, []string{"cpu,dc=x,host=a"}},
		{[]*index.Matcher{ne("dc", "x")}, []string{"cpu,dc=y,host=c", "cpu,host=b"}}, // b has no dc: ""
		{[]*index.Matcher{eq("host", "zzz")}, nil},
	} {
		if got := keysOf(c.ms...); !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.ms, got, c.want)
		}
	}
	ids := e.SelectSeries("cpu", eq("host", "a")).ToArray()
	info, _ := e.Series(ids[0])
	var fields []string
	for _, f := range info.Fields {
		if f.Key != info.Key+FieldSeparator+f.Name || f.Type != FloatType {
			t.Errorf("field %+v", f)
		}
		fields = append(fields, f.Name)
	}
	if !slices.Equal(fields, []string{"idle", "sys", "user"}) || info.Measurement != "cpu" ||
		!slices.Equal(info.Tags, [][2]string{{"dc", "x"}, {"host", "a"}}) {
		t.Errorf("series info %+v", info)
	}
	mem := e.SelectSeries("mem").ToArray()
	if info, _ := e.Series(mem[0]); len(mem) != 1 || info.Fields[0].Type != IntegerType {
		t.Errorf("mem: %v %+v", mem, info)
	}
}
