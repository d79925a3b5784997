package promqltest

import (
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
)

func TestParseSeriesDesc(t *testing.T) {
	ls, vs, err := ParseSeriesDesc(`up{job="api", instance="a:1"} 1+1x2 _ stale`)
	if err != nil {
		t.Fatal(err)
	}
	if want := model.MustFromStrings("__name__", "up", "job", "api", "instance", "a:1"); !ls.Equal(want) {
		t.Errorf("labels %s, want %s", ls, want)
	}
	if len(vs) != 5 || vs[0].V != 1 || vs[2].V != 3 || !vs[3].Missing || !promql.IsStaleNaN(vs[4].V) {
		t.Errorf("values %+v, want 1 2 3 _ stale", vs)
	}
	if ls, vs, err := ParseSeriesDesc(`{a="b"}`); err != nil || ls.Get("a") != "b" || len(vs) != 0 {
		t.Errorf(`{a="b"}: %s %v %v`, ls, vs, err)
	}
	for _, bad := range []string{`up{job=~"a"} 1`, `up 1+x`, `up{ 1`} {
		if _, _, err := ParseSeriesDesc(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
