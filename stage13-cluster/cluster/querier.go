package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// ErrPartial: some replica set had no live member (Storage.FailOnPartial).
var ErrPartial = errors.New("cluster: partial result")

// Storage is the cluster as a stage10 promql.Storage: PromQL runs on the
// node that got the query, and each Select fans out to every live node,
// merges the answers and drops the replicas' duplicates. Make one per
// query; Warnings then tells what the answer may lack.
type Storage struct {
	// Members is the cluster as this node sees it.
	Members []Member
	// Ring is the ownership ring over every member not gone for good
	// (dead ones included): a replica set of it none of whose members
	// answered is data the result may lack.
	Ring      *Ring
	Transport Transport
	// FailOnPartial makes Select fail with ErrPartial instead of
	// answering with a warning.
	FailOnPartial bool
	// Repair, if set, is called for each replica found behind the others
	// (read repair): the node and the series as merged.
	Repair func(to Meta, s remote.Series)
	// Pinned says that a selector whose matchers are all equalities,
	// the metric name among them, names one whole series (as the guide's
	// `cpu{host=server1}` does): such a Select asks only the live
	// members of that label set's replica set, in Ring and in Owners,
	// and falls back to every live node when they answer no series
	// (a series healing has not brought to its new owner yet). PromQL
	// itself matches series with more labels too, and those may live
	// anywhere: leave Pinned off for selectors that mean them.
	Pinned bool
	// NoPushDown makes Node.Query evaluate every aggregation here, over
	// the nodes' raw samples.
	NoPushDown bool
	// Owners is the ring writes use now (Node.Placement): past the
	// failure timeout it no longer has a dead node, whose series' new
	// samples go to another.
	Owners *Ring

	mu       sync.Mutex
	warnings []string
	stats    QueryStats
}

// QueryStats count a query's fan-out.
type QueryStats struct {
	Selects           int
	NodesAsked        int
	SeriesRead        int   // series received, replicas counted
	SamplesRead       int64 // samples received, replicas counted
	Series            int   // series after merging
	Samples           int64
	Repairs           int
	Pinned            int              // selects that asked one replica set only
	Fallbacks         int              // pinned selects that found nothing and asked every node
	PushedDown        int              // aggregations the nodes evaluated (pushdown.go)
	PushDownFallbacks int              // push-downs a node failed: evaluated here instead
	Asked             []string         // the nodes asked, sorted
	PerNode           map[string]int64 // samples each node returned
	Unavailable       []string         // nodes that did not answer
	PartialSets       int              // replica sets with no node answering
}

// Plan names how the query read the cluster: "push-down" (the nodes
// aggregated), "replica set" (pinned selectors asked their series' owners
// only), "replica set, fallback: fan-out", or "fan-out".
func (q QueryStats) Plan() string {
	switch {
	case q.PushedDown > 0:
		return "push-down"
	case q.Fallbacks > 0:
		return "replica set, fallback: fan-out"
	case q.Pinned > 0 && q.Pinned == q.Selects:
		return "replica set"
	}
	return "fan-out"
}

// Warnings are the query's warnings, for Prometheus's "warnings" field.
func (s *Storage) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.warnings)
}

// Stats returns what the query read so far.
func (s *Storage) Stats() QueryStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Asked = slices.Clone(s.stats.Asked)
	st.Unavailable = slices.Clone(s.stats.Unavailable)
	st.PerNode = map[string]int64{}
	for k, v := range s.stats.PerNode {
		st.PerNode[k] = v
	}
	return st
}

func (s *Storage) warn(w string) {
	if !slices.Contains(s.warnings, w) {
		s.warnings = append(s.warnings, w)
	}
}

type nodeAnswer struct {
	m      Meta
	series []remote.Series
	err    error
}

// Select implements promql.Storage.
func (s *Storage) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	if s.Pinned && s.Ring != nil {
		if lset, ok := pinnedLabels(ms); ok {
			owners := map[string]bool{}
			for _, r := range []*Ring{s.Ring, s.Owners} {
				if r != nil {
					set := r.Get(lset.Hash())
					for k := 0; k < set.Len(); k++ {
						owners[r.Node(set.At(k)).ID] = true
					}
				}
			}
			set := s.Ring.Get(lset.Hash())
			res := s.selectFrom(ctx, mint, maxt, ms, func(id string) bool { return owners[id] }, &set)
			if x, ok := res.(*sliceSet); !ok || len(x.series) > 0 {
				return res
			}
			s.mu.Lock()
			s.stats.Fallbacks++
			s.mu.Unlock()
		}
	}
	return s.selectFrom(ctx, mint, maxt, ms, nil, nil)
}

// selectFrom fans out to the live nodes ask accepts (nil: all). With a
// pinned replica set, only that set counts for the partial-result check.
func (s *Storage) selectFrom(ctx context.Context, mint, maxt int64, ms []*index.Matcher, ask func(string) bool, set *ReplicaSet) promql.SeriesSet {
	pinned := set != nil
	var live []Meta
	for _, m := range s.Members {
		if m.Health == Alive && (ask == nil || ask(m.ID)) {
			live = append(live, m.Meta)
		}
	}
	answers := make([]nodeAnswer, len(live))
	var wg sync.WaitGroup
	for i, m := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss, err := s.Transport.Read(ctx, m, mint, maxt, ms)
			answers[i] = nodeAnswer{m, ss, err}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return errSet{err}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats.PerNode == nil {
		s.stats.PerNode = map[string]int64{}
	}
	s.stats.Selects++
	s.stats.NodesAsked += len(live)
	for _, m := range live {
		if !slices.Contains(s.stats.Asked, m.ID) {
			s.stats.Asked = append(s.stats.Asked, m.ID)
		}
	}
	slices.Sort(s.stats.Asked)
	if pinned {
		s.stats.Pinned++
	}
	for _, a := range answers {
		// A node that refused the request is up: the query asked what it
		// will not do, and a replica would refuse it too. Fail the query
		// with the node's reason rather than warn of a node down.
		if errors.Is(a.err, ErrNodeRefused) {
			return errSet{a.err}
		}
	}
	answered := map[string]bool{}
	for _, a := range answers {
		if a.err != nil {
			s.stats.Unavailable = append(s.stats.Unavailable, a.m.ID)
			s.warn(fmt.Sprintf("node %s did not answer: %v", a.m.ID, a.err))
			continue
		}
		answered[a.m.ID] = true
	}
	missing := s.missingSets(answered)
	if pinned {
		// only the pinned series' replica set matters
		missing = nil
		if !slices.ContainsFunc(live, func(m Meta) bool { return answered[m.ID] }) {
			missing = []string{setKey(s.Ring, *set)}
		}
	}
	if len(missing) > 0 {
		s.stats.PartialSets += len(missing)
		msg := fmt.Sprintf("partial result: no live member in replica set(s) %s", strings.Join(missing, ", "))
		if s.FailOnPartial {
			return errSet{fmt.Errorf("%w: %s", ErrPartial, msg)}
		}
		s.warn(msg)
	}

	// Merge: replicas of a series have the same labels; their samples
	// are merged with each timestamp once, floats and histograms alike.
	type merged struct {
		labels model.Labels
		parts  [][]model.Sample
		hparts [][]remote.HistogramSample
		from   []Meta
	}
	byHash := map[uint64][]*merged{}
	var all []*merged
	for _, a := range answers {
		if a.err != nil {
			continue
		}
		for _, x := range a.series {
			s.stats.SeriesRead++
			s.stats.SamplesRead += int64(sampleCount(x))
			s.stats.PerNode[a.m.ID] += int64(sampleCount(x))
			h := x.Labels.Hash()
			var m *merged
			for _, c := range byHash[h] {
				if c.labels.Equal(x.Labels) {
					m = c
					break
				}
			}
			if m == nil {
				m = &merged{labels: x.Labels}
				byHash[h] = append(byHash[h], m)
				all = append(all, m)
			}
			m.parts = append(m.parts, x.Samples)
			m.hparts = append(m.hparts, x.Histograms)
			m.from = append(m.from, a.m)
		}
	}
	out := make([]*seriesData, 0, len(all))
	for _, m := range all {
		pts, hs := m.parts[0], m.hparts[0]
		if len(m.parts) > 1 {
			pts = mergeSamples(m.parts...)
			hs = dropShadowed(mergeHistograms(m.hparts...), pts)
		}
		merged := remote.Series{Labels: m.labels, Samples: pts, Histograms: hs}
		out = append(out, newSeriesData(merged))
		s.stats.Series++
		s.stats.Samples += int64(sampleCount(merged))
		if s.Repair != nil && s.Ring != nil {
			counts := make([]int, len(m.parts))
			for i := range m.parts {
				counts[i] = len(m.parts[i]) + len(m.hparts[i])
			}
			s.readRepair(merged, counts, m.from, live)
		}
	}
	slices.SortFunc(out, func(a, b *seriesData) int { return a.labels.Compare(b.labels) })
	return &sliceSet{series: out, i: -1}
}

// dropShadowed removes from hs (time-sorted) the histograms at a time pts
// (time-sorted) has a float at. Replicas that disagree on a sample's kind
// (one took a float, another a histogram at the same time) cannot be
// repaired: a node stores one sample a time and refuses the other kind
// as a duplicate. The merge keeps the float, as a node given both in one
// write does (appendLocal appends the float first), so the answer does
// not depend on which replica answered first, and each replica holds as
// many samples as the merge: read repair does not fire for it on every
// read. It filters hs in place (the merge's own slice).
func dropShadowed(hs []remote.HistogramSample, pts []model.Sample) []remote.HistogramSample {
	out := hs[:0]
	i := 0
	for _, h := range hs {
		for i < len(pts) && pts[i].T < h.T {
			i++
		}
		if i < len(pts) && pts[i].T == h.T {
			continue
		}
		out = append(out, h)
	}
	return out
}

// pinnedLabels returns the label set an all-equality selector with a
// metric name names; false for any other selector.
func pinnedLabels(ms []*index.Matcher) (model.Labels, bool) {
	pairs := make([]model.Label, 0, len(ms))
	name := false
	for _, m := range ms {
		if m.Type() != index.MatchEqual || m.Value() == "" {
			return model.Labels{}, false
		}
		name = name || m.Name() == model.MetricName
		pairs = append(pairs, model.Label{Name: m.Name(), Value: m.Value()})
	}
	lset, err := model.New(pairs...)
	if err != nil || !name || lset.Len() != len(ms) {
		return model.Labels{}, false // a name given twice
	}
	return lset, true
}

// setKey names a replica set by its sorted node IDs: the same nodes in
// another order (another primary) hold the same data as far as a missing
// answer goes.
func setKey(r *Ring, set ReplicaSet) string {
	ids := make([]string, 0, set.Len())
	for k := 0; k < set.Len(); k++ {
		ids = append(ids, r.Node(set.At(k)).ID)
	}
	slices.Sort(ids)
	return "{" + strings.Join(ids, ",") + "}"
}

// readRepair sends the merged series to each owner that answered with
// fewer samples (counts[i]: what from[i] answered), or without the series
// at all.
func (s *Storage) readRepair(merged remote.Series, counts []int, from []Meta, live []Meta) {
	set := s.Ring.Get(merged.Labels.Hash())
	for k := 0; k < set.Len(); k++ {
		id := s.Ring.Node(set.At(k)).ID
		n := -1
		for i, f := range from {
			if f.ID == id {
				n = counts[i]
			}
		}
		if n == sampleCount(merged) {
			continue
		}
		for _, m := range live {
			if m.ID == id {
				s.stats.Repairs++
				s.Repair(m, merged)
			}
		}
	}
}

// missingSets lists the ownership ring's replica sets none of whose
// members answered.
func (s *Storage) missingSets(answered map[string]bool) []string {
	if s.Ring == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	s.Ring.Ranges(func(_, _ uint64, set ReplicaSet) bool {
		for k := 0; k < set.Len(); k++ {
			if answered[s.Ring.Node(set.At(k)).ID] {
				return true
			}
		}
		key := setKey(s.Ring, set)
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
		return true
	})
	slices.Sort(out)
	return out
}

type seriesData struct {
	labels  model.Labels
	samples []model.Sample
	hists   []promql.HPoint
}

// newSeriesData is a series as the engine reads it: floats through its
// iterator, native histograms (in float form) through HistogramSamples.
func newSeriesData(s remote.Series) *seriesData {
	d := &seriesData{labels: s.Labels, samples: s.Samples}
	if len(s.Histograms) > 0 {
		d.hists = make([]promql.HPoint, len(s.Histograms))
		for i, h := range s.Histograms {
			fh := h.FH
			if h.H != nil {
				fh = h.H.ToFloat()
			}
			d.hists[i] = promql.HPoint{T: h.T, H: fh}
		}
	}
	return d
}

// HistogramSamples implements promql.HistogramSeries.
func (s *seriesData) HistogramSamples() []promql.HPoint { return s.hists }

func (s *seriesData) Labels() model.Labels      { return s.labels }
func (s *seriesData) Iterator() promql.Iterator { return &sliceIter{s: s.samples, i: -1} }
func (s *seriesData) Samples() []model.Sample   { return s.samples }

type sliceSet struct {
	series []*seriesData
	i      int
}

func (s *sliceSet) Next() bool               { s.i++; return s.i < len(s.series) }
func (s *sliceSet) At() promql.StorageSeries { return s.series[s.i] }
func (s *sliceSet) Err() error               { return nil }

type sliceIter struct {
	s []model.Sample
	i int
}

func (it *sliceIter) Next() bool           { it.i++; return it.i < len(it.s) }
func (it *sliceIter) At() (int64, float64) { return it.s[it.i].T, it.s[it.i].V }
func (it *sliceIter) Err() error           { return nil }

type errSet struct{ err error }

func (errSet) Next() bool               { return false }
func (errSet) At() promql.StorageSeries { return nil }
func (e errSet) Err() error             { return e.err }

func (s *Storage) pushDownFailed() {
	s.mu.Lock()
	s.stats.PushDownFallbacks++
	s.mu.Unlock()
}
