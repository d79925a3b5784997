package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// TestHealPassHandOver: a node that leaves the ring streams every series
// to its new owner, several batches in flight at once, and drops only
// what was acknowledged: with one new owner down, its series stay on the
// leaving node (counted as failed), the other owner's are stored there
// in full and deleted here.
func TestHealPassHandOver(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n, per = 2000, 20 // 40,000 samples: several batches per owner
	data := genSeries(n, per, time.Now().Add(-time.Hour).UnixMilli(), 1)
	if _, err := appendLocal(db, data); err != nil {
		t.Fatal(err)
	}
	from, _ := NewRing([]RingNode{{ID: "a"}}, RingConfig{Replication: 1})
	to, _ := NewRing([]RingNode{{ID: "b"}, {ID: "c"}}, RingConfig{Replication: 1})
	pl := Placement{Ring: to, Nodes: []Meta{{ID: "b"}, {ID: "c"}}}
	f := newFake()
	f.down["c"] = true
	st, err := healPass(context.Background(), "a", db, Placement{Ring: from, Nodes: []Meta{{ID: "a"}}}, pl, f, healOptions{drop: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	toB := 0
	for _, s := range data {
		if to.Node(to.Get(s.Labels.Hash()).At(0)).ID == "b" {
			toB++
			if got := len(f.stored["b"][s.Labels.String()]); got != per {
				t.Fatalf("%s: b holds %d samples, want %d", s.Labels, got, per)
			}
		}
	}
	if toB == 0 || toB == n {
		t.Fatalf("the ring gave b %d of %d series: the test needs both owners", toB, n)
	}
	if st.Series != n || st.Streamed != toB || st.Failed != n-toB || st.Dropped != toB || st.Samples != int64(toB*per) {
		t.Fatalf("stats %+v, want %d series, %d streamed and dropped, %d failed", st, n, toB, n-toB)
	}
	left, _, err := readLocal(db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != n-toB {
		t.Fatalf("%d series left on the leaving node, want %d (c's)", len(left), n-toB)
	}
	for _, s := range left {
		if to.Node(to.Get(s.Labels.Hash()).At(0)).ID != "c" || len(s.Samples) != per {
			t.Fatalf("left behind: %s with %d samples", s.Labels, len(s.Samples))
		}
	}
}
