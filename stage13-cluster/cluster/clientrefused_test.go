package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// refuseAll refuses every write to the nodes in refuse, takes the others
// down (a 503), and stores nothing.
type refuseAll struct{ refuse map[string]bool }

func (r refuseAll) Write(_ context.Context, to Meta, _ []remote.Series) error {
	if r.refuse[to.ID] {
		return fmt.Errorf("%w: write to %s: 400 Bad Request: out of bounds", ErrNodeRefused, to.ID)
	}
	return fmt.Errorf("%w: write to %s: 503 Service Unavailable", ErrNodeUnavailable, to.ID)
}

func (r refuseAll) Read(context.Context, Meta, int64, int64, []*index.Matcher) ([]remote.Series, error) {
	return nil, errors.New("not used")
}

// TestClientWriteRefusedIs400: a client write whose samples the replicas
// refuse (too old, out of bounds: every replica would refuse them again)
// is answered 400, which a remote-write client drops, not 503, which it
// retries for ever, the queue of its shard stuck behind one bad sample.
// A write that misses its quorum because nodes are down stays a 503.
func TestClientWriteRefusedIs400(t *testing.T) {
	pl := placement(t, 3, 3)
	all := map[string]bool{}
	for _, m := range pl.Nodes {
		all[m.ID] = true
	}
	for _, c := range []struct {
		name   string
		refuse map[string]bool
		want   int
	}{
		{"every replica refuses", all, http.StatusBadRequest},
		{"two refuse, one down", map[string]bool{pl.Nodes[0].ID: true, pl.Nodes[1].ID: true}, http.StatusBadRequest},
		{"every replica down", nil, http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &Distributor{Placement: func() Placement { return pl }, Transport: refuseAll{c.refuse}}
			n := &Node{dist: d}
			body := encodeWrite([]remote.Series{oneSeries(1, 1000)})
			req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
			req.Header.Set("Content-Encoding", "snappy")
			rec := httptest.NewRecorder()
			n.handleWrite(rec, req)
			d.Wait()
			if rec.Code != c.want {
				t.Fatalf("client write: %d %s, want %d", rec.Code, rec.Body, c.want)
			}
		})
	}
}
