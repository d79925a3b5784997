package cluster

import (
	"fmt"
	"testing"
	"time"
)

// eventually polls cond until it holds or the (generous) deadline passes:
// the machine is shared, so the deadline bounds a hang, it does not time
// anything.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastGossip is failure detection tuned for a test: probes every 100 ms,
// dead after a few hundred milliseconds of silence.
func fastGossip(meta Meta, seeds ...string) MembershipConfig {
	return MembershipConfig{
		Meta: meta, Seeds: seeds,
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond,
		SuspicionMult: 2, GossipInterval: 50 * time.Millisecond, PushPullInterval: 500 * time.Millisecond,
	}
}

func view(m *Membership) map[string]Member {
	out := map[string]Member{}
	for _, x := range m.Members() {
		out[x.ID] = x
	}
	return out
}

func TestMembershipConverges(t *testing.T) {
	const n = 4
	var ms []*Membership
	for i := 0; i < n; i++ {
		var seeds []string
		if i > 0 {
			seeds = []string{ms[0].Addr()}
		}
		meta := Meta{ID: fmt.Sprintf("node-%d", i+1), API: fmt.Sprintf("127.0.0.1:%d", 9001+i), Zone: "z" + fmt.Sprint(i%2), State: Active}
		m, err := JoinCluster(fastGossip(meta, seeds...))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	defer func() {
		for _, m := range ms {
			_ = m.Close()
		}
	}()
	eventually(t, 30*time.Second, "every node sees every node alive with its metadata", func() bool {
		for _, m := range ms {
			v := view(m)
			if len(v) != n {
				return false
			}
			for i := 0; i < n; i++ {
				x := v[fmt.Sprintf("node-%d", i+1)]
				if x.Health != Alive || x.API != fmt.Sprintf("127.0.0.1:%d", 9001+i) || x.Zone != "z"+fmt.Sprint(i%2) || x.State != Active {
					return false
				}
			}
		}
		return true
	})

	// A state change spreads.
	if err := ms[1].SetState(Leaving, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "node-2 seen LEAVING everywhere", func() bool {
		for _, m := range ms {
			if view(m)["node-2"].State != Leaving {
				return false
			}
		}
		return true
	})

	// A crash (no goodbye) is detected as a failure; a goodbye as a leave.
	if err := ms[2].Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "node-3 seen DEAD by the others", func() bool {
		for _, m := range []*Membership{ms[0], ms[1], ms[3]} {
			if view(m)["node-3"].Health != Dead {
				return false
			}
		}
		return true
	})
	// A goodbye is told from a failure by the LEAVING state announced
	// before it (memberlist's leave event does not say which), so the
	// state must have spread first, as Node.Leave's hand-over ensures.
	if err := ms[3].SetState(Leaving, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "node-4 seen LEAVING by node-1", func() bool { return view(ms[0])["node-4"].State == Leaving })
	if err := ms[3].Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "node-4 seen LEFT by node-1", func() bool { return view(ms[0])["node-4"].Health == Left })
	ms[0].Forget("node-4")
	if _, ok := view(ms[0])["node-4"]; ok {
		t.Fatal("Forget kept node-4")
	}
}
