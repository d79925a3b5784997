package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// Defaults of Config.
const (
	DefaultReplication    = 3
	DefaultFailureTimeout = 10 * time.Second
	DefaultRingInterval   = 100 * time.Millisecond
)

// seriesCacheSize bounds a node's caches of series seen in writes (keys;
// past it a cache starts again, each series paying one lookup again).
const seriesCacheSize = 1 << 20

// Config configures a node. Only ID and DataDir are required.
type Config struct {
	ID, Zone string
	// DataDir holds the node's stage06 DB (DataDir/data) and its hints
	// (DataDir/hints).
	DataDir string
	// APIAddr is the HTTP listen address (default 127.0.0.1:0).
	APIAddr string
	// Gossip configures membership; its Meta and OnChange are set by
	// the node.
	Gossip MembershipConfig
	// Join starts the node's membership from Gossip (default: JoinCluster,
	// memberlist). The node calls Gossip.OnChange's function whenever a
	// member's state or health changes; tests give a Gossiper they drive.
	Join func(MembershipConfig) (Gossiper, error)
	// Replication, VirtualNodes, ZoneAware: the ring (RingConfig).
	Replication  int
	VirtualNodes int
	ZoneAware    bool
	// FailureTimeout is how long a dead node keeps its place in the ring
	// (its writes go to hints) before the cluster re-replicates its
	// series elsewhere. A restart shorter than this costs only the hints.
	FailureTimeout time.Duration
	// RingInterval is how often the node rebuilds the ring from the
	// members (and replays hints to nodes that are back).
	RingInterval time.Duration
	// HealRate bounds healing, in samples per second (0: unbounded).
	HealRate int
	// DropAfterHandover deletes a series a node no longer owns once its
	// new owners have it (see healPass for why it is off by default).
	DropAfterHandover bool
	// Hints bound hinted handoff (Dir is set by the node).
	Hints HintsConfig
	// WriteTimeout bounds each node-to-node call (default 5 s).
	WriteTimeout time.Duration
	// Transport replaces HTTP between nodes (fault injection in tests).
	Transport Transport
	// DB configures the node's storage. Its OutOfOrderWindow defaults to
	// a day rather than stage06's zero: healing and hints deliver older
	// samples after newer ones.
	DB tsdb.Options
	// OnEvent receives what the node does (ring changes, healing
	// progress); called from the node's own goroutine.
	OnEvent func(Event)
	// Now is the node's clock (default time.Now): the age of hints, how
	// long a member has been dead (FailureTimeout), membership's Since.
	Now func() time.Time
	// After is the timer healing waits on to keep to HealRate (default
	// time.After). With Now, a test drives every time-dependent decision
	// of a node by hand; only memberlist's own probe and suspicion timers
	// and the RingInterval ticker stay on the system clock.
	After func(time.Duration) <-chan time.Time
}

// Event is something a node did, for a demo or a log.
type Event struct {
	Kind  string // "ring", "heal-progress", "heal-done", "hints"
	Nodes []string
	Done  int
	Total int
	Heal  HealStats
	Hints HintStats
	To    string
}

// Node is one member of the cluster: storage, membership, the
// distributor, the query fan-out and healing, behind one HTTP API.
type Node struct {
	cfg   Config
	db    *tsdb.DB
	ml    Gossiper
	hints *Hints
	dist  *Distributor
	tr    Transport
	// refs caches the DB's ref of each series by its label fields as a
	// replica write carries them (storeWrite).
	refs *ingest.SeriesCache
	// labels caches the label sets of the series of client writes this
	// node coordinated (decodeWrite).
	labels *labelCache
	ln     net.Listener
	srv    *http.Server
	eng    *promql.Engine

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	current Placement // the ring writes use
	healed  Placement // the ring the last completed healing pass matched
	healing bool
	// the running (or last) healing pass: series done of total
	healDone, healTotal int
	lastHeal            HealStats
	heals               int
	repairs             sync.WaitGroup
	closed              bool
	closedCh            chan struct{}
	leaveErr            error
}

// Start opens the node's storage, starts its HTTP API and joins the
// cluster through cfg.Gossip.Seeds (none: a new cluster).
func Start(cfg Config) (*Node, error) {
	if cfg.ID == "" {
		return nil, ErrEmptyNodeID
	}
	if cfg.Replication == 0 {
		cfg.Replication = DefaultReplication
	}
	if cfg.FailureTimeout <= 0 {
		cfg.FailureTimeout = DefaultFailureTimeout
	}
	if cfg.RingInterval <= 0 {
		cfg.RingInterval = DefaultRingInterval
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = "127.0.0.1:0"
	}
	if cfg.DB.OutOfOrderWindow == 0 {
		cfg.DB.OutOfOrderWindow = 24 * tsdb.Hour
	}
	if _, err := NewRing(nil, RingConfig{Replication: cfg.Replication}); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, closedCh: make(chan struct{}), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), eng: promql.NewEngine(promql.Opts{})}
	next := cfg.Transport
	if next == nil {
		next = NewHTTPTransport(cfg.WriteTimeout)
	}
	var err error
	if n.db, err = tsdb.Open(filepath.Join(cfg.DataDir, "data"), cfg.DB); err != nil {
		return nil, fmt.Errorf("cluster: node %s: %w", cfg.ID, err)
	}
	n.tr = localFirst{self: cfg.ID, db: nodeStore{id: cfg.ID, db: n.db}, next: next}
	n.refs = ingest.NewSeriesCache(seriesCacheSize)
	n.labels = newLabelCache(seriesCacheSize)
	hc := cfg.Hints
	hc.Dir = filepath.Join(cfg.DataDir, "hints")
	if hc.Now == nil {
		hc.Now = cfg.Now // hint ages on the node's clock
	}
	if n.hints, err = OpenHints(hc); err != nil {
		n.db.Close()
		return nil, err
	}
	if n.ln, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		n.hints.Close()
		n.db.Close()
		return nil, fmt.Errorf("cluster: node %s: listen: %w", cfg.ID, err)
	}
	n.dist = &Distributor{Placement: n.Placement, Transport: n.tr, Hints: n.hints, Timeout: cfg.WriteTimeout}
	mux := http.NewServeMux()
	n.register(mux)
	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.srv.Serve(n.ln) }()

	g := cfg.Gossip
	g.Meta = Meta{ID: cfg.ID, API: n.ln.Addr().String(), Zone: cfg.Zone, State: Joining}
	g.OnChange = n.poke
	if g.Now == nil {
		g.Now = cfg.Now
	}
	join := cfg.Join
	if join == nil {
		join = func(c MembershipConfig) (Gossiper, error) { return JoinCluster(c) }
	}
	if n.ml, err = join(g); err != nil {
		_ = n.srv.Close()
		n.hints.Close()
		n.db.Close()
		return nil, err
	}
	n.refresh()
	go n.loop()
	return n, nil
}

// ID is the node's ID; API its HTTP address; Gossip its gossip address.
func (n *Node) ID() string     { return n.cfg.ID }
func (n *Node) API() string    { return n.ln.Addr().String() }
func (n *Node) Gossip() string { return n.ml.Addr() }

// DB is the node's own storage.
func (n *Node) DB() *tsdb.DB { return n.db }

// Members is the node's view of the cluster.
func (n *Node) Members() []Member { return n.ml.Members() }

// Placement is the ring writes currently use and the nodes' addresses.
func (n *Node) Placement() Placement {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current
}

func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *Node) healLimits() healOptions {
	return healOptions{rate: n.cfg.HealRate, drop: n.cfg.DropAfterHandover, now: n.cfg.Now, after: n.cfg.After}
}

// ownersPlacement builds the ring of the nodes that own data: not
// leaving, not departed, and alive or dead for less than FailureTimeout.
func (n *Node) ownersPlacement(members []Member, now time.Time) Placement {
	var rn []RingNode
	var metas []Meta
	for _, m := range members {
		if m.State == Leaving || m.Health == Left {
			continue
		}
		if m.Health == Dead && now.Sub(m.Since) >= n.cfg.FailureTimeout {
			continue
		}
		rn = append(rn, RingNode{ID: m.ID, Zone: m.Zone})
		metas = append(metas, m.Meta)
	}
	r, err := NewRing(rn, RingConfig{Replication: n.cfg.Replication, VirtualNodes: n.cfg.VirtualNodes, ZoneAware: n.cfg.ZoneAware})
	if err != nil {
		return Placement{}
	}
	return Placement{Ring: r, Nodes: metas} // members are sorted by ID, as the ring's nodes
}

func ringIDs(p Placement) []string {
	var out []string
	if p.Ring != nil {
		for _, x := range p.Ring.Nodes() {
			out = append(out, x.ID)
		}
	}
	return out
}

// refresh rebuilds the ring; it reports whether its nodes changed.
func (n *Node) refresh() bool {
	p := n.ownersPlacement(n.ml.Members(), n.cfg.Now())
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := !slices.Equal(ringIDs(p), ringIDs(n.current))
	// Addresses may change (a node restarted on a new port) without the
	// ring changing: always take the new placement.
	n.current = p
	return changed
}

func (n *Node) event(e Event) {
	if e.Kind == "heal-progress" {
		n.mu.Lock()
		n.healDone, n.healTotal = e.Done, e.Total
		n.mu.Unlock()
	}
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(e)
	}
}

func (n *Node) loop() {
	defer close(n.done)
	t := time.NewTicker(n.cfg.RingInterval)
	defer t.Stop()
	// ctx ends with the loop's stop, so that Close does not wait for a
	// whole hint replay, batch after batch, to finish
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.kick:
		}
		if n.refresh() {
			n.event(Event{Kind: "ring", Nodes: ringIDs(n.Placement())})
		}
		n.mu.Lock()
		target, from := n.current, n.healed
		need := !slices.Equal(ringIDs(target), ringIDs(from)) || n.heals == 0
		n.mu.Unlock()
		if need && target.Ring != nil && target.Ring.Len() > 0 {
			n.heal(from, target)
		}
		n.replayHints(ctx)
	}
}

func (n *Node) heal(from, to Placement) {
	n.mu.Lock()
	n.healing = true
	n.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	st, err := healPass(ctx, n.cfg.ID, n.db, from, to, n.tr, n.healLimits(), func(done, total int) {
		n.event(Event{Kind: "heal-progress", Done: done, Total: total})
	})
	cancel()
	n.mu.Lock()
	n.healing = false
	n.lastHeal = st
	if err == nil && st.Failed == 0 {
		n.healed = to
		n.heals++
	}
	first := n.heals == 1 && err == nil && st.Failed == 0
	n.mu.Unlock()
	if err == nil && st.Failed == 0 {
		n.event(Event{Kind: "heal-done", Heal: st, Nodes: ringIDs(to)})
	}
	if first && n.ml.Self().State == Joining {
		// no wait for the broadcast: a node alone has no one to send
		// it to, a killed one has stopped gossip, and the loop must not
		// stall on it (Close waits for the loop)
		_ = n.ml.SetState(Active, 0)
	}
}

func (n *Node) replayHints(ctx context.Context) {
	alive := map[string]Meta{}
	for _, m := range n.ml.Members() {
		if m.Health == Alive {
			alive[m.ID] = m.Meta
		}
	}
	for _, id := range n.hints.Nodes() {
		m, ok := alive[id]
		if !ok {
			continue
		}
		st, err := n.hints.Replay(ctx, id, func(ctx context.Context, s []remote.Series) error {
			ctx, cancel := context.WithTimeout(ctx, n.cfg.WriteTimeout)
			defer cancel()
			return n.tr.Write(ctx, m, s)
		})
		if err == nil {
			n.event(Event{Kind: "hints", To: id, Hints: st})
		}
	}
}

// WriteHandler is the node's PathWrite handler, for a server that takes
// remote writes on its own listener (the capstone): it answers as the
// node's API does (204 at quorum, 503 without, 400 for a body that does not
// decode) and, unlike a Write of decoded series, keeps each series' labels
// between writes and sends a one-part write's body to the replicas as it
// came.
func (n *Node) WriteHandler() http.Handler { return http.HandlerFunc(n.handleWrite) }

// Write distributes series through this node (it coordinates the write).
func (n *Node) Write(ctx context.Context, series []remote.Series) (WriteResult, error) {
	return n.dist.Write(ctx, series)
}

// Storage returns a promql.Storage over the whole cluster for one query.
func (n *Node) Storage() *Storage {
	members := n.ml.Members()
	var rn []RingNode
	for _, m := range members {
		if m.Health != Left && m.State != Leaving {
			rn = append(rn, RingNode{ID: m.ID, Zone: m.Zone})
		}
	}
	full, _ := NewRing(rn, RingConfig{Replication: n.cfg.Replication, VirtualNodes: n.cfg.VirtualNodes, ZoneAware: n.cfg.ZoneAware})
	return &Storage{Members: members, Ring: full, Owners: n.Placement().Ring, Transport: n.tr, Repair: n.repair}
}

// repair sends a replica the series as merged by a read, in the
// background (best effort: healing covers what it misses).
func (n *Node) repair(to Meta, s remote.Series) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.repairs.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.repairs.Done()
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WriteTimeout)
		defer cancel()
		_ = n.tr.Write(ctx, to, []remote.Series{s})
	}()
}

// QueryOption adjusts the Storage of one query.
type QueryOption func(*Storage)

// PinnedSelectors makes the query's all-equality selectors name whole
// series (Storage.Pinned): each asks only its series' replica set.
func PinnedSelectors() QueryOption { return func(s *Storage) { s.Pinned = true } }

// NoPushDown evaluates every aggregation on the coordinator
// (Storage.NoPushDown).
func NoPushDown() QueryOption { return func(s *Storage) { s.NoPushDown = true } }

// Query runs an instant PromQL query over the cluster, pushing simple
// aggregations down to the nodes (pushdown.go).
func (n *Node) Query(ctx context.Context, q string, ts time.Time, opts ...QueryOption) (promql.Value, *Storage, error) {
	st := n.Storage()
	for _, o := range opts {
		o(st)
	}
	expr, err := n.eng.Parse(q)
	if err != nil {
		return nil, st, err
	}
	if plan, ok := planPushDown(expr); ok && !st.NoPushDown {
		m, err := n.pushDown(ctx, st, plan, ts.UnixMilli(), ts.UnixMilli(), 0)
		if err == nil {
			v := make(promql.Vector, 0, len(m))
			for _, s := range m {
				for _, p := range s.Floats {
					v = append(v, promql.Sample{Metric: s.Metric, T: p.T, F: p.V})
				}
			}
			return v, st, nil
		}
		if !errors.Is(err, errPushDown) {
			return nil, st, err
		}
		st.pushDownFailed()
	}
	v, err := n.eng.Eval(ctx, st, expr, ts)
	return v, st, err
}

// QueryRange runs a range PromQL query over the cluster, pushing simple
// aggregations down to the nodes (pushdown.go).
func (n *Node) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration, opts ...QueryOption) (promql.Matrix, *Storage, error) {
	st := n.Storage()
	for _, o := range opts {
		o(st)
	}
	expr, err := n.eng.Parse(q)
	if err != nil {
		return nil, st, err
	}
	if plan, ok := planPushDown(expr); ok && !st.NoPushDown && step > 0 && !end.Before(start) {
		m, err := n.pushDown(ctx, st, plan, start.UnixMilli(), end.UnixMilli(), step)
		if err == nil {
			return m, st, nil
		}
		if !errors.Is(err, errPushDown) {
			return nil, st, err
		}
		st.pushDownFailed()
	}
	m, err := n.eng.EvalRange(ctx, st, expr, start, end, step)
	return m, st, err
}

// NodeStatus is a node's report of itself (PathStatus).
type NodeStatus struct {
	ID, API, Gossip, Zone string
	State                 State
	Series                int
	Samples               int64
	Ring                  []string
	Members               []Member
	Healing               bool
	HealDone, HealTotal   int // the running (or last) healing pass: series done of total
	Heals                 int
	LastHeal              HealStats
	HintsPending          map[string]int64
	Writes                DistributorStats
}

// Status reports the node's state and what it stores.
func (n *Node) Status() (NodeStatus, error) {
	series, samples, err := readLocal(n.db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
	if err != nil {
		return NodeStatus{}, err
	}
	n.mu.Lock()
	st := NodeStatus{ID: n.cfg.ID, API: n.API(), Gossip: n.ml.Addr(), Zone: n.cfg.Zone, State: n.ml.Self().State,
		Series: len(series), Samples: samples, Ring: ringIDs(n.current), Healing: n.healing, Heals: n.heals, LastHeal: n.lastHeal,
		HealDone: n.healDone, HealTotal: n.healTotal}
	n.mu.Unlock()
	st.Members = n.ml.Members()
	st.HintsPending = n.hints.Pending()
	st.Writes = n.dist.Stats()
	return st, nil
}

// Healed reports whether the node's last healing pass matched the ring
// writes use now (and at least one pass ran).
func (n *Node) Healed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.heals > 0 && !n.healing && slices.Equal(ringIDs(n.current), ringIDs(n.healed))
}

// Leave hands this node's series over and departs gracefully: it
// announces LEAVING (the others take it out of the ring), streams every
// series to its owners in the ring without it, says goodbye and closes.
func (n *Node) Leave(ctx context.Context) (HealStats, error) {
	if err := n.ml.SetState(Leaving, n.cfg.WriteTimeout); err != nil {
		return HealStats{}, err
	}
	// stop the loop first: healing towards the ring without this node
	// is done here, once
	n.stopLoop()
	var rest []Member
	for _, m := range n.ml.Members() {
		if m.ID != n.cfg.ID {
			rest = append(rest, m)
		}
	}
	to := n.ownersPlacement(rest, n.cfg.Now())
	var st HealStats
	var err error
	if to.Ring != nil && to.Ring.Len() > 0 {
		st, err = healPass(ctx, n.cfg.ID, n.db, Placement{}, to, n.tr, n.healLimits(), func(done, total int) {
			n.event(Event{Kind: "heal-progress", Done: done, Total: total})
		})
		if err == nil && st.Failed > 0 {
			err = fmt.Errorf("cluster: leave: %d series not handed over", st.Failed)
		}
	}
	if err != nil {
		return st, err
	}
	lerr := n.ml.Leave(n.cfg.WriteTimeout)
	return st, errors.Join(lerr, n.Close())
}

func (n *Node) stopLoop() {
	n.mu.Lock()
	if n.stop != nil {
		select {
		case <-n.stop:
		default:
			close(n.stop)
		}
	}
	n.mu.Unlock()
	<-n.done
}

// Kill stops the node the way a crash does: no goodbye, connections cut.
// The others detect the failure by gossip.
func (n *Node) Kill() error {
	_ = n.ml.Close()
	return n.Close()
}

// Close stops the node: gossip (if still running), the API, the loop,
// then storage.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	defer close(n.closedCh)
	n.stopLoop()
	_ = n.ml.Close()
	_ = n.srv.Close()
	n.dist.Wait()
	n.repairs.Wait()
	return errors.Join(n.hints.Close(), n.db.Close())
}

// Done is closed once the node has closed (after Close, Kill, or a leave
// asked for over HTTP).
func (n *Node) Done() <-chan struct{} { return n.closedCh }

// nodeStore is the node's own storage as localFirst calls it.
type nodeStore struct {
	id string
	db *tsdb.DB
}

func (s nodeStore) write(series []remote.Series) error {
	_, err := appendLocal(s.db, series)
	if errors.Is(err, errSamplesRefused) {
		// what the node's HTTP handler answers 400 to (handleReplicaWrite)
		return fmt.Errorf("%w: write to %s: %w", ErrNodeRefused, s.id, err)
	}
	return err
}

func (s nodeStore) read(mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error) {
	ss, _, err := readLocal(s.db, mint, maxt, ms)
	return ss, err
}
