package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// State is the lifecycle state a node announces about itself.
type State uint8

const (
	// Joining: the node is in the cluster but still catching up; it takes
	// writes (it is in the ring) so that it misses nothing from now on.
	Joining State = iota
	// Active: a full member.
	Active
	// Leaving: the node is handing its series over; it is out of the
	// ring for new writes and still answers reads.
	Leaving
)

func (s State) String() string {
	switch s {
	case Joining:
		return "JOINING"
	case Active:
		return "ACTIVE"
	case Leaving:
		return "LEAVING"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText implements encoding.TextMarshaler (the gossiped metadata is
// JSON and names the state).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "JOINING":
		*s = Joining
	case "ACTIVE":
		*s = Active
	case "LEAVING":
		*s = Leaving
	default:
		return fmt.Errorf("cluster: unknown node state %q", b)
	}
	return nil
}

// Health is what failure detection says about a node.
type Health uint8

const (
	// Alive: the node answers probes (or is suspected but not yet
	// declared dead: memberlist's suspicion gives it time to refute).
	Alive Health = iota
	// Dead: probes failed and the suspicion timed out.
	Dead
	// Left: the node said goodbye (graceful leave).
	Left
)

func (h Health) String() string {
	switch h {
	case Alive:
		return "ALIVE"
	case Dead:
		return "DEAD"
	case Left:
		return "LEFT"
	}
	return "Health(" + strconv.Itoa(int(h)) + ")"
}

// Meta is the metadata a node gossips about itself.
type Meta struct {
	ID    string `json:"id"`
	API   string `json:"api"` // host:port of its HTTP API
	Zone  string `json:"zone,omitempty"`
	State State  `json:"state"`
}

// Member is one node as this node sees it.
type Member struct {
	Meta
	Health Health
	// Since is when Health last changed (by this node's clock).
	Since time.Time
}

// Gossiper is what a node needs from membership: its own metadata to
// announce and the members it sees, with their health. *Membership
// (memberlist's gossip and failure detection) is the one a node runs on.
// memberlist has no clock to inject: its probes, suspicion and dead
// declarations run on the system clock. A test that must decide when a
// node is seen dead gives the node, through Config.Join, a Gossiper whose
// members it sets by hand.
type Gossiper interface {
	// Addr is the gossip address others join through.
	Addr() string
	Self() Meta
	// SetState announces a new state, waiting up to timeout for it to
	// spread (0: no wait).
	SetState(s State, timeout time.Duration) error
	// Members is every node heard of, itself included, sorted by ID.
	Members() []Member
	// Leave announces a graceful departure; Close must still be called.
	Leave(timeout time.Duration) error
	Close() error
}

var _ Gossiper = (*Membership)(nil)

// MembershipConfig configures Join. Durations left zero get memberlist's
// LAN defaults (probe every 1 s, suspicion of about 5 s on a small
// cluster); tests and the demo use shorter ones.
type MembershipConfig struct {
	Meta Meta
	// BindAddr is the gossip address (default 127.0.0.1); BindPort 0
	// picks a free port (Addr tells which).
	BindAddr string
	BindPort int
	// Seeds are gossip addresses of nodes already in the cluster; none
	// starts a new cluster.
	Seeds []string
	// ProbeInterval, ProbeTimeout and SuspicionMult tune failure
	// detection: a node that misses a probe is suspected, and declared
	// dead after about SuspicionMult × log10(N) × ProbeInterval unless
	// it refutes.
	ProbeInterval, ProbeTimeout time.Duration
	SuspicionMult               int
	// GossipInterval and PushPullInterval: how often state spreads.
	GossipInterval, PushPullInterval time.Duration
	// OnChange is called (from memberlist's event goroutine, never
	// concurrently) after any member's health or metadata changed.
	OnChange func()
	// Now is the clock of Member.Since (default time.Now).
	Now func() time.Time
}

// ErrMetaTooLarge: the node's metadata does not fit memberlist's limit.
var ErrMetaTooLarge = errors.New("cluster: node metadata too large")

// ErrGossipClosed: Leave after Close (memberlist panics on it).
var ErrGossipClosed = errors.New("cluster: gossip closed")

// Membership is this node's view of the cluster, kept by memberlist's SWIM
// gossip: failure detection by direct and indirect probes, suspicion that
// the suspect can refute, and dissemination piggybacked on the probes. It
// is safe for concurrent use.
type Membership struct {
	ml  *memberlist.Memberlist
	cfg MembershipConfig

	mu      sync.Mutex
	self    Meta
	members map[string]*Member
	meta    []byte // encoded self, for NodeMeta
	version uint64 // bumped on every change
	addr    string // gossip address, read once (LocalNode's fields race with updates)

	// life orders Leave and Close: memberlist panics on a Leave after
	// its Shutdown, and a node may be closed while it leaves.
	life   sync.Mutex
	closed bool
}

// JoinCluster starts gossip for this node and joins the seeds (if any).
func JoinCluster(cfg MembershipConfig) (*Membership, error) {
	if cfg.Meta.ID == "" {
		return nil, ErrEmptyNodeID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Membership{cfg: cfg, self: cfg.Meta, members: map[string]*Member{}}
	if err := m.encodeSelf(); err != nil {
		return nil, err
	}
	c := memberlist.DefaultLANConfig()
	c.Name = cfg.Meta.ID
	c.BindAddr = cfg.BindAddr
	if c.BindAddr == "" {
		c.BindAddr = "127.0.0.1"
	}
	c.BindPort = cfg.BindPort
	c.AdvertisePort = 0
	if cfg.ProbeInterval > 0 {
		c.ProbeInterval = cfg.ProbeInterval
	}
	if cfg.ProbeTimeout > 0 {
		c.ProbeTimeout = cfg.ProbeTimeout
	}
	if cfg.SuspicionMult > 0 {
		c.SuspicionMult = cfg.SuspicionMult
	}
	if cfg.GossipInterval > 0 {
		c.GossipInterval = cfg.GossipInterval
	}
	if cfg.PushPullInterval > 0 {
		c.PushPullInterval = cfg.PushPullInterval
	}
	// A node restarted under its old ID comes back on a new port: let it
	// reclaim its name once it has been dead a moment, rather than after
	// memberlist's default of never (the old entry is reaped after 30 s).
	c.DeadNodeReclaimTime = c.ProbeInterval
	c.Delegate = (*delegate)(m)
	c.Events = (*events)(m)
	c.LogOutput = io.Discard // a library never logs
	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, fmt.Errorf("cluster: start gossip: %w", err)
	}
	m.ml = ml
	ln := ml.LocalNode()
	m.addr = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	if len(cfg.Seeds) > 0 {
		if _, err := ml.Join(cfg.Seeds); err != nil {
			_ = ml.Shutdown()
			return nil, fmt.Errorf("cluster: join %v: %w", cfg.Seeds, err)
		}
	}
	return m, nil
}

func (m *Membership) encodeSelf() error {
	b, err := json.Marshal(m.self)
	if err != nil {
		return fmt.Errorf("cluster: encode metadata: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMetaTooLarge, len(b), memberlist.MetaMaxSize)
	}
	m.meta = b
	return nil
}

// Addr is this node's gossip address (host:port), for others' Seeds.
func (m *Membership) Addr() string { return m.addr }

// Self is this node's metadata.
func (m *Membership) Self() Meta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}

// SetState announces a new state for this node to the cluster.
func (m *Membership) SetState(s State, timeout time.Duration) error {
	m.mu.Lock()
	m.self.State = s
	err := m.encodeSelf()
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if timeout <= 0 {
		// memberlist has no "don't wait": UpdateNode(0) waits without
		// bound for the broadcast to go out, and once gossip is closed
		// (Close, a crash) it never does. The shortest wait returns at
		// once; the update is applied here and queued for gossip either
		// way, so its timeout error says nothing.
		_ = m.ml.UpdateNode(time.Nanosecond)
		return nil
	}
	if err := m.ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("cluster: announce state %s: %w", s, err)
	}
	return nil
}

// Members is every node this node has heard of (itself included), sorted
// by ID, with its health; dead and departed nodes stay listed until
// Forget.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, x := range m.members {
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Version increases whenever the member list changes: a cheap way to tell
// whether to rebuild the ring.
func (m *Membership) Version() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

// Forget drops a dead or departed node from the list (an operator's
// "this node is gone for good").
func (m *Membership) Forget(id string) {
	m.mu.Lock()
	if x, ok := m.members[id]; ok && x.Health != Alive {
		delete(m.members, id)
		m.version++
	}
	m.mu.Unlock()
	m.changed()
}

// Leave announces a graceful departure (state LEAVING, then memberlist's
// goodbye) and waits up to timeout for each to spread; Close must still be
// called. The others list the node as Left, not Dead.
func (m *Membership) Leave(timeout time.Duration) error {
	if m.Self().State != Leaving {
		if err := m.SetState(Leaving, timeout); err != nil {
			return err
		}
	}
	m.life.Lock()
	defer m.life.Unlock()
	if m.closed {
		return fmt.Errorf("cluster: leave: %w", ErrGossipClosed)
	}
	if err := m.ml.Leave(timeout); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}

// Close stops gossip at once, without a goodbye: to the others this node
// fails (what a crash looks like).
func (m *Membership) Close() error {
	m.life.Lock()
	defer m.life.Unlock()
	m.closed = true
	if err := m.ml.Shutdown(); err != nil {
		return fmt.Errorf("cluster: stop gossip: %w", err)
	}
	return nil
}

func (m *Membership) changed() {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange()
	}
}

func (m *Membership) update(n *memberlist.Node, h Health) {
	var meta Meta
	if err := json.Unmarshal(n.Meta, &meta); err != nil || meta.ID != n.Name {
		// A node of another program on the same gossip port, or a
		// damaged message: not a member we can place data on.
		return
	}
	m.mu.Lock()
	x, ok := m.members[n.Name]
	if !ok {
		x = &Member{}
		m.members[n.Name] = x
	}
	if !ok || x.Health != h {
		x.Since = m.cfg.Now()
	}
	x.Meta, x.Health = meta, h
	m.version++
	m.mu.Unlock()
	m.changed()
}

type events Membership

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Membership)(e).update(n, Alive) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Membership)(e).update(n, Alive) }
func (e *events) NotifyLeave(n *memberlist.Node) {
	// memberlist passes the node as it last was (its State field is not
	// updated for a departure), so a goodbye is recognised by what the
	// node announced before it: Leave sets LEAVING first.
	h := Dead
	var meta Meta
	if n.State == memberlist.StateLeft || (json.Unmarshal(n.Meta, &meta) == nil && meta.State == Leaving) {
		h = Left
	}
	(*Membership)(e).update(n, h)
}

type delegate Membership

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return slices.Clone(d.meta)
}
func (d *delegate) NotifyMsg([]byte)                {}
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}
