package cluster

import (
	"errors"
	"testing"
	"time"
)

// quietGossip is gossip that sends nothing on its own for the length of a
// test: no probes and no gossip rounds, only the push-pull of a join. A
// state change a node announces is then queued and never transmitted.
func quietGossip(meta Meta, seeds ...string) MembershipConfig {
	return MembershipConfig{
		Meta: meta, Seeds: seeds,
		ProbeInterval: time.Hour, ProbeTimeout: time.Hour,
		GossipInterval: time.Hour, PushPullInterval: time.Hour,
	}
}

// SetState with no timeout must not wait for the broadcast: memberlist's
// UpdateNode(0) waits for it without a bound, and after Close (a crash,
// Node.Kill) gossip stops, so it would never come.
func TestSetStateNoWaitAfterClose(t *testing.T) {
	a, err := JoinCluster(quietGossip(Meta{ID: "node-1", API: "127.0.0.1:9001"}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := JoinCluster(quietGossip(Meta{ID: "node-2", API: "127.0.0.1:9002"}, a.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "node-2 sees node-1", func() bool { return len(b.Members()) == 2 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// memberlist still lists node-1 alive (no probe ran), so UpdateNode
	// would wait for a broadcast the stopped gossip never sends.
	if err := b.SetState(Active, 0); err != nil {
		t.Fatal(err)
	}
	if b.Self().State != Active {
		t.Fatalf("self %v, want ACTIVE", b.Self().State)
	}
}

// A node killed while its loop announces ACTIVE (SetState(Active, 0) after
// its first healing pass, the broadcast not yet sent) must still stop: Kill
// stops gossip first, then waits for the loop.
func TestKillWhileAnnouncingActive(t *testing.T) {
	base := t.TempDir()
	start := func(id string, seeds ...string) *Node {
		n, err := Start(Config{
			ID: id, DataDir: base + "/" + id, Replication: 1,
			Gossip:       quietGossip(Meta{}, seeds...),
			RingInterval: 10 * time.Millisecond, WriteTimeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n1 := start("node-1")
	defer n1.Close()
	n2 := start("node-2", n1.Gossip())
	// Self's state is set before memberlist is asked to spread it: once it
	// reads ACTIVE, the loop is in (or past) the announcement, which quiet
	// gossip never completes.
	eventually(t, 60*time.Second, "node-2 announces ACTIVE", func() bool {
		st, err := n2.Status()
		return err == nil && st.State == Active
	})
	if err := n2.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n2.Done()
}

// Leave after Close is an error, not memberlist's panic: a leave asked for
// over HTTP runs beside a Close.
func TestLeaveAfterClose(t *testing.T) {
	m, err := JoinCluster(quietGossip(Meta{ID: "node-1", API: "127.0.0.1:9001"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Leave(time.Second); !errors.Is(err, ErrGossipClosed) {
		t.Fatalf("Leave after Close: %v, want ErrGossipClosed", err)
	}
}
