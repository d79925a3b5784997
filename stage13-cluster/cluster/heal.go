package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// HealStats describe one healing pass.
type HealStats struct {
	Series   int // local series looked at
	Streamed int // series sent to a new owner
	Samples  int64
	Dropped  int // series this node no longer owns, deleted once handed over
	Failed   int // series whose hand-over failed (kept, retried next pass)
}

// healPass brings the replicas of this node's series in line with a new
// ring. For each local series: the owners in `to` that were not owners in
// `from` get the series streamed (by remote write) from the first old owner
// still in the ring, so only one copy travels; a node that is no longer an
// owner streams to every new owner and then deletes its copy, never before
// the new owners have acknowledged it. from nil (a node just started)
// counts every owner as new. opt.rate bounds the samples sent per second
// (0: unbounded), timed by opt's clock; progress is called after each
// batch.
//
// Dropping is optional (opt.drop): stage06 deletes by tombstones, which hide
// every sample in their range, later appends included. A node that drops
// a series and later owns it again (a ring that flips back) would hide the
// older samples healing brings it. The deletion therefore stops at the
// newest sample handed over, and is off by default: an extra copy costs
// disk, a hidden one costs data.
func healPass(ctx context.Context, self string, db *tsdb.DB, from, to Placement, t Transport, opt healOptions, progress func(done, total int)) (HealStats, error) {
	opt = opt.withDefaults()
	rate, drop := opt.rate, opt.drop
	var st HealStats
	series, _, err := readLocal(db, tsdb.MinTimestamp, tsdb.MaxTimestamp, nil)
	if err != nil {
		return st, err
	}
	st.Series = len(series)
	batches := map[string][]remote.Series{}
	batchSamples := map[string]int{}
	var toDrop []remote.Series
	selfIdx := to.Ring.Index(self)
	start := opt.now()
	// Batches are sent by up to healInflight goroutines at once: a batch's
	// time is mostly the receiver's commit waiting for its WAL's fsync,
	// and concurrent commits share one fsync (the WAL's group commit), so
	// one batch at a time would leave healing bound by disk latency.
	var (
		mu         sync.Mutex // st's counters and failed, from the senders
		wg         sync.WaitGroup
		sem        = make(chan struct{}, healInflight)
		failed     = map[string]bool{} // series (by labels) some new owner did not take
		dispatched int64
	)
	flush := func(id string) {
		b := batches[id]
		delete(batches, id)
		delete(batchSamples, id)
		if len(b) == 0 {
			return
		}
		if rate > 0 {
			// Bound the rate: wait until the samples sent so far fit it.
			want := time.Duration(float64(dispatched) / float64(rate) * float64(time.Second))
			if d := want - opt.now().Sub(start); d > 0 {
				select {
				case <-opt.after(d):
				case <-ctx.Done():
				}
			}
		}
		n := 0
		for _, s := range b {
			n += sampleCount(s)
		}
		dispatched += int64(n)
		m := metaOf(to, id)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := t.Write(ctx, m, b)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				st.Failed += len(b)
				for _, s := range b {
					failed[s.Labels.String()] = true
				}
				return
			}
			st.Streamed += len(b)
			st.Samples += int64(n)
		}()
	}
	for i, s := range series {
		if ctx.Err() != nil {
			wg.Wait()
			return st, ctx.Err()
		}
		h := s.Labels.Hash()
		newSet := to.Ring.Get(h)
		owner := selfIdx >= 0 && newSet.Contains(selfIdx)
		var targets []string
		if !owner {
			for k := 0; k < newSet.Len(); k++ {
				targets = append(targets, to.Ring.Node(newSet.At(k)).ID)
			}
			toDrop = append(toDrop, s)
		} else {
			var oldIDs []string
			if from.Ring != nil {
				os := from.Ring.Get(h)
				for k := 0; k < os.Len(); k++ {
					oldIDs = append(oldIDs, from.Ring.Node(os.At(k)).ID)
				}
			}
			// The designated sender: the first old owner still in the
			// new ring; with none (or no old ring), every owner sends.
			sender := ""
			for _, id := range oldIDs {
				if to.Ring.Index(id) >= 0 {
					sender = id
					break
				}
			}
			if sender != "" && sender != self {
				continue
			}
			for k := 0; k < newSet.Len(); k++ {
				id := to.Ring.Node(newSet.At(k)).ID
				if id != self && !contains(oldIDs, id) {
					targets = append(targets, id)
				}
			}
		}
		for _, id := range targets {
			batches[id] = append(batches[id], s)
			batchSamples[id] += sampleCount(s)
			if len(batches[id]) >= healBatchSeries || batchSamples[id] >= healBatchSamples {
				flush(id)
			}
		}
		if progress != nil && (i%256 == 255 || i == len(series)-1) {
			progress(i+1, len(series))
		}
	}
	for id := range batches {
		flush(id)
	}
	wg.Wait()
	// a series some new owner did not take is not deleted: not handed over
	handed := func(s remote.Series) bool { return !failed[s.Labels.String()] }
	// Delete what was handed over, one series at a time, by all its
	// labels; a series whose labels are a subset of another's kept here
	// would be deleted with it, so such a one is kept instead.
	if !drop {
		return st, nil
	}
	var keep []remote.Series
	dropSet := map[string]bool{}
	for _, s := range toDrop {
		if handed(s) {
			dropSet[s.Labels.String()] = true
		}
	}
	for _, s := range series {
		if !dropSet[s.Labels.String()] {
			keep = append(keep, s)
		}
	}
	for _, s := range toDrop {
		if !handed(s) {
			continue
		}
		shadowed := false
		for _, k := range keep {
			if k.Labels.Name() == s.Labels.Name() && k.Labels.Contains(s.Labels) {
				shadowed = true
				break
			}
		}
		if shadowed {
			continue
		}
		var ms []*index.Matcher
		for l := range s.Labels.All() {
			ms = append(ms, index.MustNewMatcher(index.MatchEqual, l.Name, l.Value))
		}
		if err := db.Delete(tsdb.MinTimestamp, lastT(s), ms...); err != nil {
			return st, fmt.Errorf("cluster: drop %s: %w", s.Labels, err)
		}
		st.Dropped++
	}
	return st, nil
}

// A healing batch (one remote write, one commit on the receiver) closes
// at healBatchSeries series or healBatchSamples samples, whichever comes
// first.
const (
	healBatchSeries  = 256
	healBatchSamples = 32768
	healInflight     = 4 // batches being sent at once
)

// healOptions are a healing pass's rate bound (samples/s, 0: none), whether
// it drops what it handed over, and its clock (default the system's).
type healOptions struct {
	rate  int
	drop  bool
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

func (o healOptions) withDefaults() healOptions {
	if o.now == nil {
		o.now = time.Now
	}
	if o.after == nil {
		o.after = time.After
	}
	return o
}

// sampleCount is a series' samples, floats and native histograms.
func sampleCount(s remote.Series) int { return len(s.Samples) + len(s.Histograms) }

// lastT is the time of a series' newest sample of either kind (each kind
// is in time order).
func lastT(s remote.Series) int64 {
	t := tsdb.MinTimestamp
	if n := len(s.Samples); n > 0 {
		t = s.Samples[n-1].T
	}
	if n := len(s.Histograms); n > 0 {
		t = max(t, s.Histograms[n-1].T)
	}
	return t
}

func metaOf(p Placement, id string) Meta {
	if i := p.Ring.Index(id); i >= 0 && i < len(p.Nodes) {
		return p.Nodes[i]
	}
	return Meta{ID: id}
}

func contains(s []string, x string) bool { return slices.Contains(s, x) }
