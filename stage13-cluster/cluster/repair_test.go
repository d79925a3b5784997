package cluster

import (
	"context"
	"fmt"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// readFake answers reads with fixed series per node.
type readFake struct {
	fakeTransport
	series map[string][]remote.Series
}

func (f *readFake) Read(_ context.Context, to Meta, _, _ int64, _ []*index.Matcher) ([]remote.Series, error) {
	return f.series[to.ID], nil
}

// TestReadRepairKindConflict: two replicas that hold a float and a
// histogram at one timestamp (no storage keeps both kinds at one time, so
// a repair cannot make them agree) get no read repair: the merge keeps
// the float, as a node given both in one write does (appendLocal), and
// each replica then holds as many samples as the merge. Before, every
// read repaired both, forever. A replica that also lacks a sample is
// still repaired, once: its own storage keeps its histogram.
func TestReadRepairKindConflict(t *testing.T) {
	pl := placement(t, 2, 2)
	lset := model.MustFromStrings("__name__", "rpc", "host", "a")
	_, hs := gorilla.SyntheticHistograms(1, 1)
	floats := remote.Series{Labels: lset, Samples: []model.Sample{{T: 1000, V: 1}, {T: 2000, V: 2}}}
	hist := remote.Series{Labels: lset, Samples: []model.Sample{{T: 2000, V: 2}},
		Histograms: []remote.HistogramSample{{T: 1000, H: hs[0]}}}
	histBehind := remote.Series{Labels: lset, Histograms: hist.Histograms}
	var members []Member
	for _, m := range pl.Nodes {
		members = append(members, Member{Meta: m, Health: Alive})
	}
	ms := []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "__name__", "rpc")}
	for _, c := range []struct {
		name    string
		second  remote.Series
		repairs int
	}{
		{"kinds disagree", hist, 0},
		{"kinds disagree, a sample missing", histBehind, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, order := range [][2]remote.Series{{floats, c.second}, {c.second, floats}} {
				tr := &readFake{series: map[string][]remote.Series{
					pl.Nodes[0].ID: {order[0]}, pl.Nodes[1].ID: {order[1]},
				}}
				var repaired []string
				st := &Storage{Members: members, Ring: pl.Ring, Transport: tr, Repair: func(to Meta, s remote.Series) {
					repaired = append(repaired, to.ID)
				}}
				ss := st.Select(context.Background(), 0, 10_000, ms...)
				var got []string
				for ss.Next() {
					s := ss.At().(*seriesData)
					got = append(got, fmt.Sprint(s.Samples(), len(s.HistogramSamples())))
				}
				if err := ss.Err(); err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != "[[{1000 1} {2000 2}] 0]" {
					t.Errorf("merged %v, want the two floats and no histogram", got)
				}
				if len(repaired) != c.repairs || st.Stats().Repairs != c.repairs {
					t.Errorf("repaired %v (stats %d), want %d repairs", repaired, st.Stats().Repairs, c.repairs)
				}
			}
		})
	}
}
