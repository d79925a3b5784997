package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// statusNode is a node that answers every request with one status and
// message.
func statusNode(t *testing.T, id string, code int, msg string) Member {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, msg, code)
	}))
	t.Cleanup(srv.Close)
	return Member{Meta: Meta{ID: id, API: strings.TrimPrefix(srv.URL, "http://")}, Health: Alive}
}

// TestNodeRefusalIsNotADownNode: a node's 400 (its remote-read sample
// limit) fails the query with an error naming the node and carrying its
// message, not a "did not answer" warning over a partial result; a 503
// or 429 is still a node unavailable, which another replica covers.
func TestNodeRefusalIsNotADownNode(t *testing.T) {
	tr := NewHTTPTransport(10 * time.Second)
	ms := []*index.Matcher{index.MustNewMatcher(index.MatchEqual, "__name__", "cpu")}
	over := statusNode(t, "n1", http.StatusBadRequest, "remote read: remote: exceeded sample limit (10)")
	busy := statusNode(t, "n2", http.StatusTooManyRequests, "slow down")
	down := statusNode(t, "n3", http.StatusServiceUnavailable, "shutting down")

	st := &Storage{Members: []Member{over, busy, down}, Transport: tr}
	err := st.Select(context.Background(), 0, 1000, ms...).Err()
	if !errors.Is(err, ErrNodeRefused) || errors.Is(err, ErrNodeUnavailable) ||
		!strings.Contains(err.Error(), "n1") || !strings.Contains(err.Error(), "exceeded sample limit (10)") {
		t.Fatalf("over the limit: %v; want ErrNodeRefused naming n1 and its message", err)
	}
	if u := st.Stats().Unavailable; len(u) != 0 {
		t.Fatalf("refusing node counted unavailable: %v", u)
	}

	st = &Storage{Members: []Member{busy, down}, Transport: tr}
	if err := st.Select(context.Background(), 0, 1000, ms...).Err(); err != nil {
		t.Fatalf("busy and down nodes fail the query: %v", err)
	}
	if u := st.Stats().Unavailable; fmt.Sprint(u) != "[n2 n3]" {
		t.Fatalf("unavailable %v, want [n2 n3]", u)
	}

	for _, c := range []struct {
		m    Member
		want error
	}{{over, ErrNodeRefused}, {busy, ErrNodeUnavailable}, {down, ErrNodeUnavailable}} {
		err := tr.Write(context.Background(), c.m.Meta, []remote.Series{oneSeries(1, 1000)})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.m.ID) {
			t.Errorf("write to %s: %v, want %v naming the node", c.m.ID, err, c.want)
		}
	}
}

// refusingTransport refuses every write to one node.
type refusingTransport struct {
	*fakeTransport
	node string
}

func (r refusingTransport) Write(ctx context.Context, to Meta, series []remote.Series) error {
	if to.ID == r.node {
		return fmt.Errorf("%w: write to %s: 400 Bad Request: out of bounds", ErrNodeRefused, to.ID)
	}
	return r.fakeTransport.Write(ctx, to, series)
}

// TestRefusedWriteNotHinted: a replica that refuses a write is a failed
// replica for the quorum, but gets no hint: a replay would be refused
// again.
func TestRefusedWriteNotHinted(t *testing.T) {
	pl := placement(t, 3, 3)
	h, err := OpenHints(HintsConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	d := &Distributor{Placement: func() Placement { return pl }, Transport: refusingTransport{newFake(), "node-2"}, Hints: h}
	if _, err := d.Write(context.Background(), []remote.Series{oneSeries(1, 1000)}); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	if st := d.Stats(); st.Failed != 1 || st.Hinted != 0 || len(h.Nodes()) != 0 {
		t.Fatalf("stats %+v, hints for %v; want 1 failed, none hinted", st, h.Nodes())
	}
}

// TestReplicaWriteRefusedSamplesIs400: a replica write whose samples the
// node's storage refuses at commit (too old here) is answered 400 with the
// storage's reason, which the coordinator's client takes for
// ErrNodeRefused (a failed replica, no hint), not a 5xx it would take for
// a node down and hint forever. The samples it accepts are stored.
func TestReplicaWriteRefusedSamplesIs400(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := &Node{db: db}
	srv := httptest.NewServer(http.HandlerFunc(n.handleReplicaWrite))
	defer srv.Close()
	to := Meta{ID: "n1", API: strings.TrimPrefix(srv.URL, "http://")}
	tooOld := oneSeries(1, tsdb.MinTimestamp-1)
	good := oneSeries(2, nowMs())
	err = NewHTTPTransport(10*time.Second).Write(context.Background(), to, []remote.Series{good, tooOld})
	if !errors.Is(err, ErrNodeRefused) || errors.Is(err, ErrNodeUnavailable) ||
		!strings.Contains(err.Error(), tsdb.ErrTooOld.Error()) || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("write with a too-old sample: %v; want ErrNodeRefused naming n1 with the storage's reason", err)
	}
	got, samples, err := readLocal(db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
	if err != nil || len(got) != 1 || samples != 1 || !got[0].Labels.Equal(good.Labels) {
		t.Fatalf("stored %v (%d samples), %v; want the good series only", got, samples, err)
	}
}

// TestRefusedHintDropped: a hint whose replay the node refuses (a 4xx) is
// dropped and counted, and the hints after it are still sent; it is not
// kept to be refused again at every replay. A node unavailable still
// keeps the log whole.
func TestRefusedHintDropped(t *testing.T) {
	h, err := OpenHints(HintsConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for i := range 3 {
		if err := h.Add("n", []remote.Series{oneSeries(i, 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	down := func(context.Context, []remote.Series) error {
		return fmt.Errorf("%w: write to n: 503 Service Unavailable", ErrNodeUnavailable)
	}
	if _, err := h.Replay(context.Background(), "n", down); !errors.Is(err, ErrNodeUnavailable) || len(h.Nodes()) != 1 {
		t.Fatalf("replay to a node down: %v, hints for %v; want the error and the log kept", err, h.Nodes())
	}
	var sent []string
	st, err := h.Replay(context.Background(), "n", func(_ context.Context, s []remote.Series) error {
		if s[0].Labels.String() == oneSeries(1, 0).Labels.String() {
			return fmt.Errorf("%w: write to n: 400 Bad Request: out of bounds", ErrNodeRefused)
		}
		sent = append(sent, s[0].Labels.String())
		return nil
	})
	if err != nil || st.Refused != 1 || st.Replayed != 2 || len(sent) != 2 || len(h.Nodes()) != 0 {
		t.Fatalf("replay: %+v, %v, sent %v, hints left for %v; want 2 replayed, 1 refused and dropped", st, err, sent, h.Nodes())
	}
}

// TestCommitRefusalIsSamplesRefused: samples a commit refuses (another
// writer's sample at their time, committed between their Append and the
// Commit) are refused samples, as those refused at Append are: a 400, not
// a node's failure; the write's other samples are stored and counted.
func TestCommitRefusalIsSamplesRefused(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := nowMs()
	conflict, other := oneSeries(1, ts), oneSeries(2, ts)
	a := localAppend{app: db.Appender(context.Background())}
	a.add(0, conflict.Labels, nil, conflict.Samples, nil)
	a.add(0, other.Labels, nil, other.Samples, nil)
	b := db.Appender(context.Background())
	if _, err := b.Append(0, conflict.Labels, ts, 99); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	n, err := a.commit()
	if !errors.Is(err, errSamplesRefused) || !errors.Is(err, tsdb.ErrDuplicate) || n != 1 {
		t.Fatalf("commit after a conflicting writer: %d stored, %v; want 1 and refused samples (duplicate)", n, err)
	}
}

// TestSelfRefusalNotHinted: the coordinator's own replica goes straight to
// its storage (localFirst), not over HTTP; samples that storage refuses
// are ErrNodeRefused there too, naming the node: a failed replica, not a
// hint the coordinator would replay to itself and see refused forever.
func TestSelfRefusalNotHinted(t *testing.T) {
	pl := placement(t, 3, 3)
	self := pl.Nodes[0].ID
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := OpenHints(HintsConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	tr := localFirst{self: self, db: nodeStore{id: self, db: db}, next: newFake()}
	err = tr.Write(context.Background(), pl.Nodes[0], []remote.Series{oneSeries(1, tsdb.MinTimestamp-1)})
	if !errors.Is(err, ErrNodeRefused) || !strings.Contains(err.Error(), self) || !strings.Contains(err.Error(), tsdb.ErrTooOld.Error()) {
		t.Fatalf("own storage refusing: %v; want ErrNodeRefused naming %s with the reason", err, self)
	}
	d := &Distributor{Placement: func() Placement { return pl }, Transport: tr, Hints: h}
	if _, err := d.Write(context.Background(), []remote.Series{oneSeries(1, tsdb.MinTimestamp-1)}); err != nil {
		t.Fatal(err) // the two other replicas (fakes) take it
	}
	d.Wait()
	if st := d.Stats(); st.Failed != 1 || st.Hinted != 0 || len(h.Nodes()) != 0 {
		t.Fatalf("stats %+v, hints for %v; want 1 failed, none hinted", st, h.Nodes())
	}
}
