package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage11-ingest/remote"
)

// ErrNoQuorum: fewer than a quorum of some replica set took the write. The
// write may still have landed on some replicas (and in hints); the client
// should retry it, which is safe: writes are idempotent.
var ErrNoQuorum = errors.New("cluster: write quorum not reached")

// ErrNoNodes: the ring is empty.
var ErrNoNodes = errors.New("cluster: no nodes in the ring")

// Placement is what a distributor needs from the cluster at the moment of
// a write: the ring, and where each of its nodes listens.
type Placement struct {
	Ring  *Ring
	Nodes []Meta // Nodes[i] is Ring.Node(i)
}

// Distributor splits a write by replica set and sends each part to its
// replicas in parallel, acknowledging once a quorum of every part has
// acknowledged, and never before. A replica that fails gets the part as a
// hint.
type Distributor struct {
	// Placement returns the current ring and addresses.
	Placement func() Placement
	Transport Transport
	// Hints keeps what failed replicas missed (nil: nothing kept).
	Hints *Hints
	// Timeout bounds each replica's send (0: 5 s). Sends still running
	// when the write is acknowledged go on in the background, detached
	// from the caller's context, so that a replica's copy is not cut
	// short by the quorum having been reached.
	Timeout time.Duration

	hinted, hintDropped, acked, failed atomic.Int64
	inflight                           sync.WaitGroup
}

// WriteResult describes an acknowledged write.
type WriteResult struct {
	Series, Samples int
	// Parts is the number of replica sets the write was split into.
	Parts int
	// Acks is, over the parts, the fewest replicas that had acknowledged
	// when the write was acknowledged (≥ quorum); Replicas is how many
	// each part was sent to.
	Acks, Replicas int
	// Primary and Replicas of the first series, for a one-series write's
	// report ("written to node-1 (primary), node-2 (replica)").
	Targets []string
}

type sendResult struct {
	part int
	err  error
}

// Write distributes series (each series' samples go to its replica set).
func (d *Distributor) Write(ctx context.Context, series []remote.Series) (WriteResult, error) {
	return d.write(ctx, series, nil, nil)
}

// write is Write given what a coordinator that decoded a client's request
// has already: hashes[i] is the hash of series[i]'s labels (nil: computed
// here), and body is the request itself, a snappy remote write 1.0 body
// holding exactly series (nil: none). A write that is one part (on N nodes
// at RF=N, every write) is the whole request, so body goes to the
// replicas as it came instead of being encoded again: at 100,000
// samples/s through 3 nodes, encoding was a tenth of the cluster's CPU.
func (d *Distributor) write(ctx context.Context, series []remote.Series, hashes []uint64, body []byte) (WriteResult, error) {
	var res WriteResult
	pl := d.Placement()
	if pl.Ring == nil || pl.Ring.Len() == 0 {
		return res, ErrNoNodes
	}
	type part struct {
		set    ReplicaSet
		series []remote.Series
		body   func() []byte // the part's request, encoded once for all its replicas
	}
	// Parts are keyed by the set's members, not their order: replica sets
	// that differ only in which node is primary go to the same nodes, so
	// they travel as one request per node (on 3 nodes at RF=3 every
	// series is one part instead of six, a sixth of the requests, commits
	// and WAL syncs).
	idx := map[ReplicaSet]int{}
	var parts []part
	var first ReplicaSet
	for si, s := range series {
		var h uint64
		if hashes != nil {
			h = hashes[si]
		} else {
			h = s.Labels.Hash()
		}
		set := pl.Ring.Get(h)
		if res.Series == 0 {
			first = set
		}
		key := set.sorted()
		i, ok := idx[key]
		if !ok {
			i = len(parts)
			idx[key] = i
			parts = append(parts, part{set: key})
		}
		parts[i].series = append(parts[i].series, s)
		res.Series++
		res.Samples += sampleCount(s)
	}
	if len(parts) == 0 {
		return res, nil
	}
	for k := 0; k < first.Len(); k++ {
		res.Targets = append(res.Targets, pl.Nodes[first.At(k)].ID)
	}
	ew, encoded := d.Transport.(encodedWriter)
	for i := range parts {
		if len(parts) == 1 && body != nil {
			parts[i].body = func() []byte { return body }
			break
		}
		ps := parts[i].series
		parts[i].body = sync.OnceValue(func() []byte { return encodeWrite(ps) })
	}
	res.Parts = len(parts)
	quorum := pl.Ring.Quorum()
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// Buffered for every send, so that sends finishing after Write has
	// returned never block.
	total := 0
	for _, p := range parts {
		total += p.set.Len()
	}
	results := make(chan sendResult, total)
	bg := context.WithoutCancel(ctx)
	for pi, p := range parts {
		for k := 0; k < p.set.Len(); k++ {
			to := pl.Nodes[p.set.At(k)]
			d.inflight.Add(1)
			go func() {
				defer d.inflight.Done()
				sctx, cancel := context.WithTimeout(bg, timeout)
				var err error
				if encoded {
					err = ew.writeEncoded(sctx, to, p.series, p.body)
				} else {
					err = d.Transport.Write(sctx, to, p.series)
				}
				cancel()
				if err != nil {
					d.failed.Add(1)
					// A refusal would be refused again on replay.
					if !errors.Is(err, ErrNodeRefused) {
						d.hint(to.ID, p.series)
					}
				} else {
					d.acked.Add(1)
				}
				results <- sendResult{pi, err}
			}()
		}
	}
	oks := make([]int, len(parts))
	fails := make([]int, len(parts))
	refused := make([]error, len(parts)) // a part's first refusal
	done := 0                            // parts at quorum
	var firstErr error
	for received := 0; received < total; received++ {
		var r sendResult
		select {
		case r = <-results:
		case <-ctx.Done():
			return res, fmt.Errorf("cluster: write: %w", ctx.Err())
		}
		p := parts[r.part]
		if r.err != nil {
			fails[r.part]++
			if firstErr == nil {
				firstErr = r.err
			}
			if refused[r.part] == nil && errors.Is(r.err, ErrNodeRefused) {
				refused[r.part] = r.err
			}
			// Quorum out of reach for this part: answer now rather
			// than wait for the rest. A replica that refused the
			// samples (what it could store it stored) would refuse
			// them again: the error then wraps the refusal, so that a
			// client is told not to retry (a 400, not a 503 it would
			// retry for ever).
			if p.set.Len()-fails[r.part] < quorum {
				cause := firstErr
				if refused[r.part] != nil {
					cause = refused[r.part]
				}
				return res, fmt.Errorf("%w: %d of %d replicas failed (need %d): %w", ErrNoQuorum, fails[r.part], p.set.Len(), quorum, cause)
			}
			continue
		}
		oks[r.part]++
		if oks[r.part] == quorum {
			done++
			if done == len(parts) {
				res.Acks, res.Replicas = quorum, p.set.Len()
				for i := range parts {
					res.Acks = min(res.Acks, oks[i])
					res.Replicas = max(res.Replicas, parts[i].set.Len())
				}
				return res, nil
			}
		}
	}
	// Every send answered and some part is short: only possible when a
	// replica set is smaller than the quorum (fewer nodes than RF).
	return res, fmt.Errorf("%w: a replica set has fewer nodes than the quorum %d", ErrNoQuorum, quorum)
}

func (d *Distributor) hint(node string, series []remote.Series) {
	if d.Hints == nil {
		return
	}
	if err := d.Hints.Add(node, series); err != nil {
		d.hintDropped.Add(1)
		return
	}
	d.hinted.Add(1)
}

// DistributorStats count replica sends since start.
type DistributorStats struct {
	Acked, Failed, Hinted, HintsDropped int64
}

// Stats returns the counters.
func (d *Distributor) Stats() DistributorStats {
	return DistributorStats{Acked: d.acked.Load(), Failed: d.failed.Load(), Hinted: d.hinted.Load(), HintsDropped: d.hintDropped.Load()}
}

// Wait waits for the sends still running after their writes were
// acknowledged (before closing what they use).
func (d *Distributor) Wait() { d.inflight.Wait() }
