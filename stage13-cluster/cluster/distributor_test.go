package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// fakeTransport records, per node, the samples it stored; down nodes fail;
// gate (if set) holds every write until released.
type fakeTransport struct {
	mu     sync.Mutex
	stored map[string]map[string][]model.Sample // node → series → samples
	down   map[string]bool
	gate   chan struct{}
	acked  atomic.Int64 // successful writes completed
}

func newFake() *fakeTransport {
	return &fakeTransport{stored: map[string]map[string][]model.Sample{}, down: map[string]bool{}}
}

func (f *fakeTransport) Write(ctx context.Context, to Meta, series []remote.Series) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[to.ID] {
		return fmt.Errorf("%w: %s down", ErrNodeUnavailable, to.ID)
	}
	if f.stored[to.ID] == nil {
		f.stored[to.ID] = map[string][]model.Sample{}
	}
	for _, s := range series {
		k := s.Labels.String()
		f.stored[to.ID][k] = mergeSamples(f.stored[to.ID][k], s.Samples)
	}
	f.acked.Add(1)
	return nil
}

func (f *fakeTransport) Read(ctx context.Context, to Meta, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error) {
	return nil, errors.New("not used")
}

func placement(t testing.TB, n, rf int) Placement {
	r, err := NewRing(nodesN(n), RingConfig{Replication: rf})
	if err != nil {
		t.Fatal(err)
	}
	var metas []Meta
	for _, x := range r.Nodes() {
		metas = append(metas, Meta{ID: x.ID, API: x.ID})
	}
	return Placement{Ring: r, Nodes: metas}
}

func oneSeries(i int, ts int64) remote.Series {
	return remote.Series{Labels: model.MustFromStrings("__name__", "cpu", "host", fmt.Sprintf("h%d", i)), Samples: []model.Sample{{T: ts, V: float64(i)}}}
}

// The write is acknowledged only once a quorum of every part has stored
// it: the transport counts completed writes, and at the moment Write
// returns the count already holds a quorum for each part.
func TestDistributorAcksAtQuorumNeverEarlier(t *testing.T) {
	pl := placement(t, 3, 3)
	f := newFake()
	f.gate = make(chan struct{})
	d := &Distributor{Placement: func() Placement { return pl }, Transport: f}
	type out struct {
		res  WriteResult
		err  error
		seen int64
	}
	ch := make(chan out, 1)
	go func() {
		res, err := d.Write(context.Background(), []remote.Series{oneSeries(1, 1000)})
		ch <- out{res, err, f.acked.Load()}
	}()
	// Release the replicas one by one; the write may return only after
	// the second.
	f.gate <- struct{}{}
	f.gate <- struct{}{}
	o := <-ch
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.seen < 2 || o.res.Acks < 2 || o.res.Replicas != 3 {
		t.Fatalf("acknowledged with %d stored replicas (result %+v), quorum is 2", o.seen, o.res)
	}
	f.gate <- struct{}{}
	d.Wait()
	if f.acked.Load() != 3 {
		t.Fatalf("%d replicas stored, want 3", f.acked.Load())
	}
}

func TestDistributorQuorumAndHints(t *testing.T) {
	pl := placement(t, 3, 3)
	f := newFake()
	h, err := OpenHints(HintsConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	d := &Distributor{Placement: func() Placement { return pl }, Transport: f, Hints: h}
	var batch []remote.Series
	for i := 0; i < 200; i++ {
		batch = append(batch, oneSeries(i, 1000))
	}
	// one node down: quorum 2 of 3 holds, the down node gets hints
	f.down["node-2"] = true
	res, err := d.Write(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	d.Wait()
	if res.Series != 200 || res.Acks < 2 {
		t.Fatalf("result %+v", res)
	}
	if len(h.Nodes()) != 1 || h.Nodes()[0] != "node-2" {
		t.Fatalf("hints for %v, want node-2", h.Nodes())
	}
	// two down: no quorum
	f.down["node-3"] = true
	if _, err := d.Write(context.Background(), batch); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("two of three down: %v, want ErrNoQuorum", err)
	}
	d.Wait()
	// node-2 returns: its hints replay, and it holds every series of
	// the first write (the second was never acknowledged).
	f.down["node-2"], f.down["node-3"] = false, false
	for _, id := range h.Nodes() {
		if _, err := h.Replay(context.Background(), id, func(ctx context.Context, s []remote.Series) error {
			return f.Write(ctx, Meta{ID: id}, s)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.Nodes()) != 0 {
		t.Fatalf("hints left after replay: %v", h.Pending())
	}
	for i := 0; i < 200; i++ {
		k := oneSeries(i, 0).Labels.String()
		if len(f.stored["node-2"][k]) != 1 {
			t.Fatalf("node-2 lacks %s after replay", k)
		}
	}
}

func TestHintsBoundedInSizeAndAge(t *testing.T) {
	now := int64(0)
	dir := t.TempDir()
	h, err := OpenHints(HintsConfig{Dir: dir, MaxBytes: 4096, MaxAge: 60e9, Now: func() (tm timeNow) { return timeAt(now) }})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for i := 0; i < 1000; i++ {
		if err := h.Add("n", []remote.Series{oneSeries(i, 1)}); err != nil {
			if !errors.Is(err, ErrHintsFull) {
				t.Fatal(err)
			}
			break
		}
		stored++
	}
	if stored == 0 || stored == 1000 || h.Pending()["n"] > 4096 {
		t.Fatalf("stored %d hints, %d bytes: the 4096-byte bound did not hold", stored, h.Pending()["n"])
	}
	// Survive a restart, then expire: 61 s later nothing is sent.
	h.Close()
	h, err = OpenHints(HintsConfig{Dir: dir, MaxBytes: 4096, MaxAge: 60e9, Now: func() (tm timeNow) { return timeAt(now) }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if len(h.Nodes()) != 1 {
		t.Fatal("hints lost across a restart")
	}
	now = 61e9
	st, err := h.Replay(context.Background(), "n", func(context.Context, []remote.Series) error {
		t.Fatal("an expired hint was sent")
		return nil
	})
	if err != nil || st.Expired != stored {
		t.Fatalf("replay: %+v, %v; want %d expired", st, err, stored)
	}
}

// encodingFake is a transport that takes encoded writes: it records each
// request's node, series and body, and how often each body was encoded.
type encodingFake struct {
	fakeTransport
	mu       sync.Mutex
	requests map[string][][]remote.Series // node → requests
	bodies   map[*byte]int                // first byte of each body seen → sends
}

func (f *encodingFake) writeEncoded(ctx context.Context, to Meta, series []remote.Series, body func() []byte) error {
	b := body()
	f.mu.Lock()
	f.requests[to.ID] = append(f.requests[to.ID], series)
	f.bodies[&b[0]]++
	f.mu.Unlock()
	return f.Write(ctx, to, series)
}

// A write goes to each node as one request per set of replica nodes
// (whatever their order, i.e. whichever is primary), each request's body
// is encoded once for all its replicas, and a one-series write still
// reports its replicas primary first.
func TestDistributorOneRequestPerReplicaNodes(t *testing.T) {
	for _, tc := range []struct{ nodes, rf int }{{3, 3}, {5, 3}, {4, 2}} {
		pl := placement(t, tc.nodes, tc.rf)
		f := &encodingFake{fakeTransport: *newFake(), requests: map[string][][]remote.Series{}, bodies: map[*byte]int{}}
		d := &Distributor{Placement: func() Placement { return pl }, Transport: f}
		var series []remote.Series
		sets := map[ReplicaSet]bool{} // unordered
		for i := range 600 {
			s := oneSeries(i, 1000)
			series = append(series, s)
			sets[pl.Ring.Get(s.Labels.Hash()).sorted()] = true
		}
		res, err := d.Write(context.Background(), series)
		if err != nil {
			t.Fatal(err)
		}
		d.Wait()
		if res.Parts != len(sets) {
			t.Fatalf("%+v: %d parts, want %d distinct node sets", tc, res.Parts, len(sets))
		}
		requests := 0
		for node, reqs := range f.requests {
			ni := pl.Ring.Index(node)
			want := 0
			for s := range sets {
				if s.Contains(ni) {
					want++
				}
			}
			if len(reqs) != want {
				t.Fatalf("%+v: %s got %d requests, want %d (one per node set holding it)", tc, node, len(reqs), want)
			}
			for _, req := range reqs {
				set := pl.Ring.Get(req[0].Labels.Hash()).sorted()
				for _, s := range req {
					if pl.Ring.Get(s.Labels.Hash()).sorted() != set {
						t.Fatalf("%+v: a request to %s mixes node sets", tc, node)
					}
				}
			}
			requests += len(reqs)
		}
		if requests != len(sets)*tc.rf {
			t.Fatalf("%+v: %d requests, want %d", tc, requests, len(sets)*tc.rf)
		}
		if len(f.bodies) != len(sets) {
			t.Fatalf("%+v: %d bodies encoded for %d parts", tc, len(f.bodies), len(sets))
		}
		for _, n := range f.bodies {
			if n != tc.rf {
				t.Fatalf("%+v: a body was sent %d times, want %d", tc, n, tc.rf)
			}
		}
		one, err := d.Write(context.Background(), series[7:8])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(one.Targets), fmt.Sprint(setIDs(pl.Ring, pl.Ring.Get(series[7].Labels.Hash()))); got != want {
			t.Fatalf("%+v: targets %s, want the ring's order %s", tc, got, want)
		}
		d.Wait()
	}
}
