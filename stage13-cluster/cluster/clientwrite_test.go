package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// A client's remote write over HTTP, to each node in turn and again with
// the next samples (the series then known to every node's caches), lands
// on exactly the RF nodes of each series' replica set, with no hint kept
// (every replica is up), and reads back once through every node: with one
// part per write (3 nodes, RF=3: the client's body is sent on as it came)
// and with many (4 nodes, RF=2: each part encoded).
func TestClientWriteOverHTTP(t *testing.T) {
	for _, tc := range []struct{ nodes, rf int }{{3, 3}, {4, 2}} {
		t.Run(fmt.Sprintf("nodes=%d/rf=%d", tc.nodes, tc.rf), func(t *testing.T) {
			c := newCluster(t, tc.nodes, tc.rf, nil)
			var nodes []*Node
			for i := 1; i <= tc.nodes; i++ {
				nodes = append(nodes, c.nodes[fmt.Sprintf("node-%d", i)])
			}
			k := newChecker()
			const series = 200
			t0 := nowMs()
			for round := range 2 * tc.nodes {
				data := genSeries(series, 2, t0+int64(round)*60_000, round)
				to := nodes[round%tc.nodes]
				resp, err := http.Post("http://"+to.API()+PathWrite, "application/x-protobuf", bytes.NewReader(encodeWrite(data)))
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				k.record(data, resp.StatusCode == http.StatusNoContent)
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("round %d through %s: %s, want 204", round, to.ID(), resp.Status)
				}
			}
			for _, n := range nodes {
				n.dist.Wait() // the replicas past the quorum
				if got := n.labels.len(); got != series {
					t.Fatalf("%s coordinated writes of %d series and cached %d label sets", n.ID(), series, got)
				}
				// every replica up: nothing goes through the hint logs
				if p := n.hints.Pending(); len(p) > 0 || n.dist.Stats().Hinted > 0 {
					t.Fatalf("%s kept hints with every replica up: %v", n.ID(), p)
				}
			}
			for key, got := range holders(t, c, k) {
				if got != tc.rf {
					t.Fatalf("%s complete on %d nodes, want %d", key, got, tc.rf)
				}
			}
			checked := 0
			for _, n := range nodes {
				checked += k.check(t, n)
			}
			t.Logf("%d acknowledged samples read once through each of %d nodes", checked/tc.nodes, tc.nodes)

			// the same handler on another server's listener (the capstone's)
			srv := httptest.NewServer(nodes[0].WriteHandler())
			defer srv.Close()
			more := genSeries(series, 1, t0+time.Hour.Milliseconds(), 99)
			resp, err := http.Post(srv.URL, "application/x-protobuf", bytes.NewReader(encodeWrite(more)))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			k.record(more, resp.StatusCode == http.StatusNoContent)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Cluster-Acks") == "" {
				t.Fatalf("through WriteHandler: %s, acks %q", resp.Status, resp.Header.Get("X-Cluster-Acks"))
			}
			nodes[0].dist.Wait()
			k.check(t, nodes[1])

			resp, err = http.Post("http://"+nodes[0].API()+PathWrite, "application/x-protobuf", bytes.NewReader([]byte("not snappy")))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("a body that does not decode: %s, want 400", resp.Status)
			}
		})
	}
}

// A coordinator's write that is one part sends the client's body to every
// replica as it came; one of several parts sends each part's own encoding.
func TestDistributorForwardsOnePartBody(t *testing.T) {
	for _, tc := range []struct{ nodes, rf int }{{3, 3}, {4, 2}} {
		pl := placement(t, tc.nodes, tc.rf)
		f := &encodingFake{fakeTransport: *newFake(), requests: map[string][][]remote.Series{}, bodies: map[*byte]int{}}
		d := &Distributor{Placement: func() Placement { return pl }, Transport: f}
		var series []remote.Series
		var hashes []uint64
		for i := range 300 {
			s := oneSeries(i, 1000)
			series = append(series, s)
			hashes = append(hashes, s.Labels.Hash())
		}
		body := encodeWrite(series)
		res, err := d.write(context.Background(), series, hashes, body)
		if err != nil {
			t.Fatal(err)
		}
		d.Wait()
		forwarded := f.bodies[&body[0]]
		switch {
		case res.Parts == 1 && forwarded != tc.rf:
			t.Fatalf("%+v: one part, the client's body sent %d times, want %d", tc, forwarded, tc.rf)
		case res.Parts > 1 && forwarded != 0:
			t.Fatalf("%+v: %d parts, and the whole client body sent %d times", tc, res.Parts, forwarded)
		}
		if tc.nodes == tc.rf && res.Parts != 1 {
			t.Fatalf("%+v: %d parts, want 1", tc, res.Parts)
		}
		if tc.nodes > tc.rf && res.Parts == 1 {
			t.Fatalf("%+v: 1 part", tc)
		}
	}
}

// The label cache gives a series' label set and hash as built from the
// wire, the same for the same label fields, and caches no refusal.
func TestLabelCache(t *testing.T) {
	c := newLabelCache(2)
	key := func(pairs ...string) *remote.TimeSeries {
		ts := &remote.TimeSeries{}
		for i := 0; i < len(pairs); i += 2 {
			ts.Labels = append(ts.Labels, remote.Label{Name: []byte(pairs[i]), Value: []byte(pairs[i+1])})
			ts.Key = fmt.Appendf(ts.Key, "%s=%s;", pairs[i], pairs[i+1])
		}
		return ts
	}
	for range 2 {
		lset, h, err := c.get(key("host", "a", "__name__", "cpu", "dc", ""))
		want := model.MustFromStrings("__name__", "cpu", "host", "a")
		if err != nil || !lset.Equal(want) || h != want.Hash() {
			t.Fatalf("got %s %x %v, want %s %x", lset, h, err, want, want.Hash())
		}
	}
	if _, _, err := c.get(key("host", "b")); err == nil {
		t.Fatal("a series without a metric name was taken")
	}
	if c.len() != 1 {
		t.Fatalf("%d label sets cached, want 1 (no refusal)", c.len())
	}
	for _, host := range []string{"b", "c", "d"} {
		lset, _, err := c.get(key("__name__", "cpu", "host", host))
		if err != nil || lset.Get("host") != host {
			t.Fatalf("host %s: %s, %v", host, lset, err)
		}
	}
	if c.len() > 2 {
		t.Fatalf("%d label sets cached, bound 2", c.len())
	}
}

// A client's write of series the coordinator has seen decodes without
// building their labels again: a few allocations for the request, not
// several per series.
func TestDecodeWriteKnownSeriesAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	const n = 200
	body := encodeWrite(genSeries(n, 1, 1000, 1))
	c := newLabelCache(1 << 10)
	decode := func() {
		r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		series, hashes, _, err := decodeWrite(r, c)
		if err != nil || len(series) != n || len(hashes) != n {
			t.Fatalf("decoded %d series, %d hashes, %v", len(series), len(hashes), err)
		}
	}
	decode()
	if got := testing.AllocsPerRun(20, decode); got > n/4 {
		t.Fatalf("%.0f allocations to decode %d known series, want at most %d", got, n, n/4)
	}
}
