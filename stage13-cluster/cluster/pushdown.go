package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Push-down. A query of the shape
//
//	sum|count|min|max|avg [by|without (labels)] (selector)
//	sum|count|min|max|avg [by|without (labels)] (f(selector[range]))   f: rate, increase, delta, *_over_time
//
// is not evaluated on the coordinator over every raw sample: each live
// node evaluates the aggregation over its own series and the coordinator
// combines the partial results (sums and counts add up, minima and maxima
// take the least and the greatest; avg is the sum of the sums over the sum
// of the counts). The reading, decoding and per-series functions, the bulk
// of the work, spread over the nodes, and only one point per group and step
// crosses the network.
//
// Replicated series must count once. Each series is aggregated by exactly
// one node: the first node of its candidates that is live, the candidates
// being its replica set in the read ring (every member not gone for good)
// then in the owners ring (where writes go now, so healing moved its data
// there after a failure). The coordinator sends both rings' nodes and the
// live nodes with the request, so every node makes the same choice from the
// same inputs, whatever its own view of the membership. A live node is one
// the coordinator sees alive and ACTIVE: a JOINING node may not hold its
// series yet.
//
// What a push-down cannot see: a replica that is behind the others (it
// missed writes while it was down and its hints are not replayed yet) is
// the only one read for its series, where the fan-out merges every replica.
// Sums may also differ in the last bits from the coordinator's, being added
// in another order. A node that fails to answer makes the coordinator
// evaluate the query the ordinary way (QueryStats.PushDownFallbacks).

// PathAggregate evaluates a pushed-down aggregation over the node's own
// series (aggRequest as JSON in, aggResponse out).
const PathAggregate = "/cluster/v1/aggregate"

// pushPlan is a query that can be pushed down: the aggregation and the
// partial queries the nodes run (for avg, a sum and a count).
type pushPlan struct {
	op       parser.Op
	partials []string // sum|count|min|max: one; avg: sum then count
}

// planPushDown recognises the shapes above.
func planPushDown(expr parser.Expr) (*pushPlan, bool) {
	agg, ok := parser.UnwrapParens(expr).(*parser.AggregateExpr)
	if !ok || agg.Param != nil {
		return nil, false
	}
	switch agg.Op {
	case parser.SUM, parser.COUNT, parser.MIN, parser.MAX, parser.AVG:
	default:
		return nil, false
	}
	switch in := parser.UnwrapParens(agg.Expr).(type) {
	case *parser.VectorSelector:
	case *parser.Call:
		switch in.Func.Name {
		case "rate", "increase", "delta", "sum_over_time", "count_over_time", "min_over_time",
			"max_over_time", "avg_over_time", "last_over_time", "present_over_time":
		default:
			return nil, false
		}
		if len(in.Args) != 1 {
			return nil, false
		}
		if _, ok := in.Args[0].(*parser.MatrixSelector); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	p := &pushPlan{op: agg.Op}
	if agg.Op == parser.AVG {
		for _, op := range []parser.Op{parser.SUM, parser.COUNT} {
			a := *agg
			a.Op = op
			p.partials = append(p.partials, a.String())
		}
	} else {
		p.partials = []string{agg.String()}
	}
	return p, true
}

// aggRequest asks a node for its part of a pushed-down aggregation: the
// partial query as a range query (an instant query is one step), and what
// it needs to choose its series.
type aggRequest struct {
	Query            string
	Start, End, Step int64 // ms
	Ring, Owners     []RingNode
	Live             []string
	Replication      int
	VirtualNodes     int
	ZoneAware        bool
}

// aggResponse is the node's partial result; values as strings ('g', so
// NaN and ±Inf survive JSON, and every bit).
type aggResponse struct {
	Series     []aggSeries
	Samples    int64 // samples the node read
	SeriesRead int
}

type aggSeries struct {
	Metric map[string]string
	T      []int64
	V      []string
}

// chooser decides which series a node aggregates.
type chooser struct {
	self         string
	ring, owners *Ring
	live         map[string]bool
}

// mine reports whether the node is the first live candidate of lset.
func (c *chooser) mine(lset model.Labels) bool {
	h := lset.Hash()
	for _, r := range []*Ring{c.ring, c.owners} {
		if r == nil {
			continue
		}
		set := r.Get(h)
		for k := 0; k < set.Len(); k++ {
			if id := r.Node(set.At(k)).ID; c.live[id] {
				return id == c.self
			}
		}
	}
	return false
}

// ownedStorage is the node's own DB, only the series it aggregates.
type ownedStorage struct {
	db      *tsdb.DB
	choose  *chooser
	mu      sync.Mutex
	samples int64
	series  int
}

func (o *ownedStorage) Select(_ context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	ss, _, err := readLocal(o.db, mint, maxt, ms)
	if err != nil {
		return errSet{err}
	}
	out := make([]*seriesData, 0, len(ss))
	var n int64
	for _, s := range ss {
		if o.choose.mine(s.Labels) {
			out = append(out, newSeriesData(s))
			n += int64(sampleCount(s))
		}
	}
	o.mu.Lock()
	o.samples += n
	o.series += len(out)
	o.mu.Unlock()
	return &sliceSet{series: out, i: -1} // readLocal's order: sorted by labels
}

func (n *Node) handleAggregate(w http.ResponseWriter, r *http.Request) {
	var req aggRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := n.aggregate(r.Context(), req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// aggregate evaluates a node's part of a pushed-down aggregation.
func (n *Node) aggregate(ctx context.Context, req aggRequest) (aggResponse, error) {
	rc := RingConfig{Replication: req.Replication, VirtualNodes: req.VirtualNodes, ZoneAware: req.ZoneAware}
	ring, err := NewRing(req.Ring, rc)
	if err != nil {
		return aggResponse{}, fmt.Errorf("cluster: aggregate: ring: %w", err)
	}
	var owners *Ring
	if len(req.Owners) > 0 {
		if owners, err = NewRing(req.Owners, rc); err != nil {
			return aggResponse{}, fmt.Errorf("cluster: aggregate: owners ring: %w", err)
		}
	}
	live := map[string]bool{}
	for _, id := range req.Live {
		live[id] = true
	}
	st := &ownedStorage{db: n.db, choose: &chooser{self: n.cfg.ID, ring: ring, owners: owners, live: live}}
	m, err := n.eng.QueryRange(ctx, st, req.Query, time.UnixMilli(req.Start), time.UnixMilli(req.End), time.Duration(req.Step)*time.Millisecond)
	if err != nil {
		return aggResponse{}, err
	}
	out := aggResponse{Samples: st.samples, SeriesRead: st.series}
	for _, s := range m {
		if len(s.Histograms) > 0 {
			// partial histogram sums do not travel as floats: the
			// coordinator evaluates it over the nodes' raw samples
			return aggResponse{}, fmt.Errorf("cluster: aggregate: %s: native histogram results are not pushed down", s.Metric)
		}
		as := aggSeries{Metric: s.Metric.Map()}
		for _, p := range s.Floats {
			as.T = append(as.T, p.T)
			as.V = append(as.V, strconv.FormatFloat(p.V, 'g', -1, 64))
		}
		out.Series = append(out.Series, as)
	}
	return out, nil
}

// errPushDown: a node did not answer its part; the query runs the
// ordinary way.
var errPushDown = errors.New("cluster: push-down failed")

// acc combines the partial results of one group at one step.
type acc struct {
	v, count float64
	set      bool
}

// pushDown runs plan over the cluster from start to end (start == end:
// one step, an instant query).
func (n *Node) pushDown(ctx context.Context, st *Storage, plan *pushPlan, start, end int64, step time.Duration) (promql.Matrix, error) {
	var live []Meta
	for _, m := range st.Members {
		if m.Health == Alive && m.State == Active {
			live = append(live, m.Meta)
		}
	}
	req := aggRequest{Start: start, End: end, Step: step.Milliseconds(),
		Replication: n.cfg.Replication, VirtualNodes: n.cfg.VirtualNodes, ZoneAware: n.cfg.ZoneAware}
	if req.Step <= 0 {
		req.Step = 1000
	}
	if st.Ring != nil {
		req.Ring = st.Ring.Nodes()
	}
	if st.Owners != nil {
		req.Owners = st.Owners.Nodes()
	}
	for _, m := range live {
		req.Live = append(req.Live, m.ID)
	}

	type groupKey = string
	groups := map[groupKey]model.Labels{}
	vals := map[groupKey]map[int64]*acc{}
	var mu sync.Mutex
	perNode := map[string]int64{}
	for pi, q := range plan.partials {
		req.Query = q
		errs := make([]error, len(live))
		var wg sync.WaitGroup
		for i, m := range live {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var resp aggResponse
				var err error
				if m.ID == n.cfg.ID {
					resp, err = n.aggregate(ctx, req)
				} else {
					resp, err = postAggregate(ctx, m, req)
				}
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", m.ID, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				perNode[m.ID] += resp.Samples
				for _, s := range resp.Series {
					pairs := make([]model.Label, 0, len(s.Metric))
					for k, v := range s.Metric {
						pairs = append(pairs, model.Label{Name: k, Value: v})
					}
					lset, err := model.New(pairs...)
					if err != nil {
						errs[i] = fmt.Errorf("%s: %w", m.ID, err)
						return
					}
					key := lset.String()
					groups[key] = lset
					if vals[key] == nil {
						vals[key] = map[int64]*acc{}
					}
					for k, t := range s.T {
						v, err := strconv.ParseFloat(s.V[k], 64)
						if err != nil {
							errs[i] = fmt.Errorf("%s: value %q: %w", m.ID, s.V[k], err)
							return
						}
						a := vals[key][t]
						if a == nil {
							a = &acc{}
							vals[key][t] = a
						}
						combine(plan.op, pi, a, v)
					}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("%w: %v", errPushDown, err)
		}
	}

	st.mu.Lock()
	if st.stats.PerNode == nil {
		st.stats.PerNode = map[string]int64{}
	}
	st.stats.PushedDown++
	st.stats.NodesAsked += len(live) * len(plan.partials)
	answered := map[string]bool{}
	for _, m := range live {
		answered[m.ID] = true
		if !slices.Contains(st.stats.Asked, m.ID) {
			st.stats.Asked = append(st.stats.Asked, m.ID)
		}
		st.stats.PerNode[m.ID] += perNode[m.ID]
		st.stats.SamplesRead += perNode[m.ID]
	}
	slices.Sort(st.stats.Asked)
	if missing := st.missingSets(answered); len(missing) > 0 {
		st.stats.PartialSets += len(missing)
		msg := fmt.Sprintf("partial result: no live member in replica set(s) %s", strings.Join(missing, ", "))
		if st.FailOnPartial {
			st.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrPartial, msg)
		}
		st.warn(msg)
	}
	st.mu.Unlock()

	out := make(promql.Matrix, 0, len(groups))
	for key, lset := range groups {
		s := promql.Series{Metric: lset}
		for t, a := range vals[key] {
			v := a.v
			if plan.op == parser.AVG {
				v = a.v / a.count
			}
			s.Floats = append(s.Floats, model.Sample{T: t, V: v})
		}
		slices.SortFunc(s.Floats, func(a, b model.Sample) int { return cmpInt(a.T, b.T) })
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b promql.Series) int { return a.Metric.Compare(b.Metric) })
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// combine folds one node's partial value into a group's accumulator. For
// avg, partial 0 is the sum, partial 1 the count.
func combine(op parser.Op, partial int, a *acc, v float64) {
	switch op {
	case parser.SUM, parser.COUNT:
		a.v += v
	case parser.AVG:
		if partial == 0 {
			a.v += v
		} else {
			a.count += v
		}
	case parser.MIN:
		// as Prometheus's min: NaN only where every value is NaN
		if !a.set || v < a.v || math.IsNaN(a.v) {
			a.v = v
		}
	case parser.MAX:
		if !a.set || v > a.v || math.IsNaN(a.v) {
			a.v = v
		}
	}
	a.set = true
}

// postAggregate asks node m for its part of a push-down over HTTP.
// The query's context bounds it, as it bounds the query.
func postAggregate(ctx context.Context, m Meta, req aggRequest) (aggResponse, error) {
	client := http.DefaultClient
	body, err := json.Marshal(req)
	if err != nil {
		return aggResponse{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.API+PathAggregate, bytes.NewReader(body))
	if err != nil {
		return aggResponse{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hr)
	if err != nil {
		return aggResponse{}, fmt.Errorf("%w: %v", ErrNodeUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return aggResponse{}, fmt.Errorf("%w: %s: %s", ErrNodeUnavailable, resp.Status, bytes.TrimSpace(msg))
	}
	var out aggResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&out); err != nil {
		return aggResponse{}, fmt.Errorf("%w: %v", ErrNodeUnavailable, err)
	}
	return out, nil
}
