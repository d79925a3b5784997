package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors callers branch on.
var (
	// ErrBackpressure: the queue of sealed batches is full (and, in Block
	// mode, stayed full for BlockTimeout). Nothing of the write was taken;
	// the client should retry later (HTTP 429, `ERR backpressure`).
	ErrBackpressure = errors.New("ingest: back-pressure: the write queue is full")
	// ErrClosed: the pipeline is closed.
	ErrClosed = errors.New("ingest: pipeline closed")
	// ErrSink wraps the error of a sink that could not store a batch; the
	// writes with points in it are not acknowledged.
	ErrSink = errors.New("ingest: sink")
)

// Sink stores batches: stage06's head (BlocksSink), memory (MemorySink),
// nothing (Discard); the cluster's distributor later. Write must return
// only once the batch is durable as far as the sink can make it (for a
// storage engine: in its WAL), because the pipeline acknowledges the
// batch's writes when it returns nil. Flushers call Write concurrently.
type Sink interface {
	Write(b *Batch) error
}

// Backpressure is what a write does when the queue of sealed batches is
// full. Each listener chooses its own.
type Backpressure uint8

const (
	// Block waits for room, up to Options.BlockTimeout, then rejects.
	Block Backpressure = iota
	// Reject refuses at once with ErrBackpressure.
	Reject
)

// ParseBackpressure reads "block" or "reject".
func ParseBackpressure(s string) (Backpressure, error) {
	switch s {
	case "block":
		return Block, nil
	case "reject":
		return Reject, nil
	}
	return 0, fmt.Errorf("ingest: back-pressure %q: want block or reject", s)
}

func (b Backpressure) String() string {
	if b == Reject {
		return "reject"
	}
	return "block"
}

// Options configure a pipeline. Zero values get the defaults noted.
type Options struct {
	// BatchSize seals a batch once it holds this many points (at the end
	// of the write that reached it: a write never spans batches). Defaults
	// to 10,000.
	BatchSize int
	// MaxAge bounds how long a batch fills while the flushers are busy:
	// older ones are flushed before the queue. Defaults to 100 ms.
	MaxAge time.Duration
	// QueueSize is the capacity of the queue of sealed batches (rounded up
	// to a power of two). Defaults to 16.
	QueueSize int
	// Queue picks the queue: "ring" (the default, lock-free) or "chan" (a
	// buffered channel, for comparison).
	Queue string
	// Receivers is the number of batches being filled at once. Defaults to
	// 4 × GOMAXPROCS, at least 16.
	Receivers int
	// MaxPending bounds the points written but not yet flushed (in the
	// queue, and in filling batches whose writes wait): past it, writes
	// get back-pressure even if the queue has room, since batches that do
	// not fill go to the sink without passing through it. Defaults to
	// QueueSize × BatchSize.
	MaxPending int
	// Flushers is the number of goroutines writing batches to the sink.
	// Defaults to 4 × GOMAXPROCS, at least 8: a storage sink's Write
	// spends most of its time waiting for the WAL's fsync, which costs no
	// CPU, and the WAL's group commit folds the batches of all the
	// flushers waiting into one fsync; with only one flusher per core, a
	// write whose batch is ready waits for a flusher to come back from
	// someone else's fsync.
	Flushers int
	// BlockTimeout is how long a Block write waits for room. Defaults to
	// 5 s.
	BlockTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = 10_000
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 100 * time.Millisecond
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 16
	}
	if o.MaxPending <= 0 {
		o.MaxPending = o.QueueSize * o.BatchSize
	}
	if o.Queue == "" {
		o.Queue = "ring"
	}
	if o.Receivers <= 0 {
		o.Receivers = max(16, 4*runtime.GOMAXPROCS(0))
	}
	if o.Flushers <= 0 {
		o.Flushers = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if o.BlockTimeout <= 0 {
		o.BlockTimeout = 5 * time.Second
	}
	return o
}

// receiver owns one batch being filled. A write holds one receiver from
// Begin to Commit, so appending takes no lock per point; receivers are
// many, so writes rarely wait for one.
type receiver struct {
	mu      sync.Mutex
	b       *Batch
	w       Write        // the write holding the receiver: no allocation per write
	since   atomic.Int64 // unix ns of the batch's first point; 0: empty
	waiting atomic.Bool  // a committed write waits for this batch
	_       [64]byte     // keep receivers on separate cache lines
}

// Pipeline is the ingestion pipeline: receivers fill batches, sealed
// batches wait in a bounded queue, flushers write them to the sink and
// acknowledge the writes whose points they held.
type Pipeline struct {
	sink Sink
	opts Options
	q    queue
	recv []receiver
	pool batchPool

	wake   chan struct{} // a batch was queued or a write waits
	closed atomic.Bool
	active writeGate // the writes under way, which Close waits for
	stop   chan struct{}
	wg     sync.WaitGroup

	pending atomic.Int64 // points of ended writes not yet flushed

	spaceMu      sync.Mutex
	spaceCh      chan struct{} // closed when a flusher frees a slot
	spaceWaiters atomic.Int32

	stats stats
}

// stats are the pipeline's counters (Stats returns a copy).
type stats struct {
	batches, points, refused          atomic.Int64
	sealedFull, sealedAge, sealedIdle atomic.Int64
	rejected, blocked, sinkErrors     atomic.Int64
	seq                               atomic.Uint64
}

// Stats is a snapshot of a pipeline's counters.
type Stats struct {
	Batches    int64 // flushed
	Points     int64 // flushed (refused ones included)
	Refused    int64 // points the sink refused
	SealedFull int64 // batches sealed because they reached BatchSize
	SealedAge  int64 // flushed because they reached MaxAge while the flushers were busy
	SealedIdle int64 // taken by an idle flusher because a write waited for them
	Rejected   int64 // writes refused with ErrBackpressure
	Blocked    int64 // writes that waited for room
	SinkErrors int64 // batches the sink failed to store
	Queued     int   // sealed batches waiting now
	QueueCap   int
	Pending    int64 // points of ended writes not yet flushed
}

// New starts a pipeline writing into sink.
func New(sink Sink, opts Options) (*Pipeline, error) {
	opts = opts.withDefaults()
	p := &Pipeline{sink: sink, opts: opts, recv: make([]receiver, opts.Receivers), wake: make(chan struct{}, opts.Flushers), stop: make(chan struct{}), spaceCh: make(chan struct{}), active: writeGate{zero: make(chan struct{}, 1)}}
	switch opts.Queue {
	case "ring":
		p.q = ringQueue{NewRing[*Batch](opts.QueueSize)}
	case "chan":
		n := NewRing[*Batch](opts.QueueSize).Cap() // the same rounding
		p.q = make(chanQueue, n)
	default:
		return nil, fmt.Errorf("ingest: queue %q: want ring or chan", opts.Queue)
	}
	p.pool = newBatchPool(opts.QueueSize + opts.Receivers + opts.Flushers)
	for i := range p.recv {
		p.recv[i].b = p.pool.get()
	}
	for range opts.Flushers {
		p.wg.Add(1)
		go p.flusher()
	}
	return p, nil
}

// Options returns the options in effect (defaults filled).
func (p *Pipeline) Options() Options { return p.opts }

// Stats returns the counters.
func (p *Pipeline) Stats() Stats {
	s := &p.stats
	return Stats{Batches: s.batches.Load(), Points: s.points.Load(), Refused: s.refused.Load(),
		SealedFull: s.sealedFull.Load(), SealedAge: s.sealedAge.Load(), SealedIdle: s.sealedIdle.Load(),
		Rejected: s.rejected.Load(), Blocked: s.blocked.Load(), SinkErrors: s.sinkErrors.Load(),
		Queued: p.q.len(), QueueCap: p.q.cap(), Pending: p.pending.Load()}
}

// Close stops taking writes, waits for the writes under way to commit,
// flushes every batch and stops the flushers. Writes waiting for their
// acknowledgement get it.
func (p *Pipeline) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.active.wait()
	close(p.stop)
	p.wg.Wait()
	for i := range p.recv {
		p.pool.put(p.recv[i].b)
		p.recv[i].b = nil
	}
	return nil
}

// writeGate counts the writes under way without a lock every Begin would take
// (a mutex there was the one contended lock on the append path): a write
// enters, then checks closed; Close sets closed, then waits for the count
// to reach zero. Sequentially consistent atomics make the two orders
// meet: either the write sees closed and leaves, or Close sees the write
// and waits for it.
type writeGate struct {
	n    atomic.Int64
	zero chan struct{} // a token when the count reached zero after closing
}

// enter counts a write in unless closed is set.
func (g *writeGate) enter(closed *atomic.Bool) bool {
	g.n.Add(1)
	if closed.Load() {
		g.exit(closed)
		return false
	}
	return true
}

func (g *writeGate) exit(closed *atomic.Bool) {
	if g.n.Add(-1) == 0 && closed.Load() {
		select {
		case g.zero <- struct{}{}:
		default: // a token is there already
		}
	}
}

// wait returns once no write is under way (closed already set).
func (g *writeGate) wait() {
	for g.n.Load() != 0 {
		<-g.zero // a stale token only costs a loop
	}
}

// signal wakes one idle flusher, if any.
func (p *Pipeline) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// room reports whether the queue has a free slot and the pending points
// are under MaxPending.
func (p *Pipeline) room() bool {
	return p.q.len() < p.q.cap() && p.pending.Load() < int64(p.opts.MaxPending)
}

// admit applies back-pressure: with room it returns at once.
func (p *Pipeline) admit(ctx context.Context, mode Backpressure) error {
	if p.room() {
		return nil
	}
	if mode == Reject {
		p.stats.rejected.Add(1)
		return ErrBackpressure
	}
	p.stats.blocked.Add(1)
	timer := time.NewTimer(p.opts.BlockTimeout)
	defer timer.Stop()
	for {
		p.spaceWaiters.Add(1)
		p.spaceMu.Lock()
		ch := p.spaceCh
		p.spaceMu.Unlock()
		if p.room() {
			p.spaceWaiters.Add(-1)
			return nil
		}
		select {
		case <-ch:
			p.spaceWaiters.Add(-1)
		case <-ctx.Done():
			p.spaceWaiters.Add(-1)
			return ctx.Err()
		case <-timer.C:
			p.spaceWaiters.Add(-1)
			p.stats.rejected.Add(1)
			return ErrBackpressure
		case <-p.stop:
			p.spaceWaiters.Add(-1)
			return ErrClosed
		}
		if p.room() {
			return nil
		}
	}
}

// freed tells blocked writers that a slot was freed.
func (p *Pipeline) freed() {
	if p.spaceWaiters.Load() == 0 {
		return
	}
	p.spaceMu.Lock()
	close(p.spaceCh)
	p.spaceCh = make(chan struct{})
	p.spaceMu.Unlock()
}

// acquire takes a free receiver, trying them from a random start without
// waiting; only if all are busy does it wait for one.
func (p *Pipeline) acquire() *receiver {
	n := len(p.recv)
	start := rand.IntN(n)
	for i := range 2 * n { // twice round: a flusher may hold one for a moment
		r := &p.recv[(start+i)%n]
		if r.mu.TryLock() {
			return r
		}
		if i == n-1 {
			runtime.Gosched()
		}
	}
	r := &p.recv[start]
	r.mu.Lock()
	return r
}

// enqueue seals r's batch into the queue if there is room (r locked).
func (p *Pipeline) enqueue(r *receiver) bool {
	b := r.b
	b.seq = p.stats.seq.Add(1)
	if !p.q.push(b) {
		return false
	}
	p.stats.sealedFull.Add(1)
	r.b = p.pool.get()
	r.since.Store(0)
	r.waiting.Store(false)
	p.signal()
	return true
}

// take removes r's batch if it has points and r is free.
func (p *Pipeline) take(r *receiver) *Batch {
	if !r.mu.TryLock() {
		return nil
	}
	var b *Batch
	if len(r.b.points) > 0 {
		b = r.b
		b.seq = p.stats.seq.Add(1)
		r.b = p.pool.get()
		r.since.Store(0)
		r.waiting.Store(false)
	}
	r.mu.Unlock()
	return b
}

// next finds the next batch to flush: a filling batch older than MaxAge
// (its writers have waited long enough), else the queue's oldest, else a
// filling batch a write waits for (the flusher is idle: flushing it now
// costs nothing and answers the write sooner). nil once stopped and
// drained.
func (p *Pipeline) next(idle *time.Ticker) *Batch {
	for {
		old := time.Now().Add(-p.opts.MaxAge).UnixNano()
		for i := range p.recv {
			r := &p.recv[i]
			if s := r.since.Load(); s != 0 && s < old {
				if b := p.take(r); b != nil {
					p.stats.sealedAge.Add(1)
					return b
				}
			}
		}
		if b := p.q.pop(); b != nil {
			return b
		}
		start := rand.IntN(len(p.recv))
		for i := range p.recv {
			r := &p.recv[(start+i)%len(p.recv)]
			if r.waiting.Load() {
				if b := p.take(r); b != nil {
					p.stats.sealedIdle.Add(1)
					return b
				}
			}
		}
		select {
		case <-p.stop:
			// Close waited for every write to commit: what is left is
			// in the queue or in a receiver, and nobody adds to it.
			if b := p.q.pop(); b != nil {
				return b
			}
			for i := range p.recv {
				if b := p.take(&p.recv[i]); b != nil {
					return b
				}
			}
			return nil
		case <-p.wake:
		case <-idle.C:
		}
	}
}

func (p *Pipeline) flusher() {
	defer p.wg.Done()
	idle := time.NewTicker(max(p.opts.MaxAge/4, time.Millisecond))
	defer idle.Stop()
	for {
		b := p.next(idle)
		if b == nil {
			return
		}
		p.flush(b)
	}
}

// flush writes b to the sink and acknowledges its writes.
func (p *Pipeline) flush(b *Batch) {
	err := p.sink.Write(b)
	if err != nil {
		p.stats.sinkErrors.Add(1)
		err = fmt.Errorf("%w: %w", ErrSink, err)
	}
	p.stats.batches.Add(1)
	p.stats.points.Add(int64(len(b.points)))
	p.stats.refused.Add(int64(len(b.refused)))
	ref := b.refused
	if !slices.IsSortedFunc(ref, func(x, y refusal) int { return int(x.i - y.i) }) {
		slices.SortFunc(ref, func(x, y refusal) int { return int(x.i - y.i) })
	}
	// The waiters' ranges are in order too: one pass over both.
	j := 0
	for i := range b.waiters {
		w := &b.waiters[i]
		for j < len(ref) && ref[j].i < w.from {
			j++
		}
		k := j
		for k < len(ref) && ref[k].i < w.to {
			k++
		}
		// A write never spans batches: its positions start at from.
		w.ack.done(int(w.to-w.from), ref[j:k], w.from, err)
		j = k
	}
	p.pending.Add(-int64(len(b.points)))
	p.freed()
	p.pool.put(b)
}
