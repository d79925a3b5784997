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

	mu       sync.Mutex
	warnings []string
	stats    QueryStats
}

// QueryStats count a query's fan-out.
type QueryStats struct {
	Selects     int
	NodesAsked  int
	SeriesRead  int   // series received, replicas counted
	SamplesRead int64 // samples received, replicas counted
	Series      int   // series after merging
	Samples     int64
	Repairs     int
	PerNode     map[string]int64 // samples each node returned
	Unavailable []string         // nodes that did not answer
	PartialSets int              // replica sets with no node answering
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
	var live []Meta
	for _, m := range s.Members {
		if m.Health == Alive {
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
	answered := map[string]bool{}
	for _, a := range answers {
		if a.err != nil {
			s.stats.Unavailable = append(s.stats.Unavailable, a.m.ID)
			s.warn(fmt.Sprintf("node %s did not answer: %v", a.m.ID, a.err))
			continue
		}
		answered[a.m.ID] = true
	}
	if missing := s.missingSets(answered); len(missing) > 0 {
		s.stats.PartialSets += len(missing)
		msg := fmt.Sprintf("partial result: no live member in replica set(s) %s", strings.Join(missing, ", "))
		if s.FailOnPartial {
			return errSet{fmt.Errorf("%w: %s", ErrPartial, msg)}
		}
		s.warn(msg)
	}

	// Merge: replicas of a series have the same labels; their samples
	// are merged with each timestamp once.
	type merged struct {
		labels model.Labels
		parts  [][]model.Sample
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
			s.stats.SamplesRead += int64(len(x.Samples))
			s.stats.PerNode[a.m.ID] += int64(len(x.Samples))
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
			m.from = append(m.from, a.m)
		}
	}
	out := make([]*seriesData, 0, len(all))
	for _, m := range all {
		pts := m.parts[0]
		if len(m.parts) > 1 {
			pts = mergeSamples(m.parts...)
		}
		out = append(out, &seriesData{labels: m.labels, samples: pts})
		s.stats.Series++
		s.stats.Samples += int64(len(pts))
		if s.Repair != nil && s.Ring != nil {
			s.readRepair(m.labels, pts, m.parts, m.from, live)
		}
	}
	slices.SortFunc(out, func(a, b *seriesData) int { return a.labels.Compare(b.labels) })
	return &sliceSet{series: out, i: -1}
}

// readRepair sends the merged series to each owner that answered with
// fewer samples, or without the series at all.
func (s *Storage) readRepair(lset model.Labels, pts []model.Sample, parts [][]model.Sample, from []Meta, live []Meta) {
	set := s.Ring.Get(lset.Hash())
	for k := 0; k < set.Len(); k++ {
		id := s.Ring.Node(set.At(k)).ID
		n := -1
		for i, f := range from {
			if f.ID == id {
				n = len(parts[i])
			}
		}
		if n == len(pts) {
			continue
		}
		for _, m := range live {
			if m.ID == id {
				s.stats.Repairs++
				s.Repair(m, remote.Series{Labels: lset, Samples: pts})
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
		var ids []string
		for k := 0; k < set.Len(); k++ {
			id := s.Ring.Node(set.At(k)).ID
			if answered[id] {
				return true
			}
			ids = append(ids, id)
		}
		// the same nodes in another order (another primary) hold
		// the same data as far as a missing answer goes
		slices.Sort(ids)
		key := "{" + strings.Join(ids, ",") + "}"
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
}

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
