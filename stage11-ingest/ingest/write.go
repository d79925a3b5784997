package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what happened to the points of one write.
type Result struct {
	Points  int   // points the write added
	Refused int   // of those, points the sink refused (out of order, invalid series …)
	First   error // the first refusal
	// RefusedAt are the refused points' positions in the write (the order
	// of Add, from 0), the first MaxRefusedAt of them: a TCP listener
	// answers the line that held each.
	RefusedAt []int
}

// MaxRefusedAt caps Result.RefusedAt.
const MaxRefusedAt = 1000

// ack collects the outcome of the batches that hold a write's points and
// wakes the write when the last one is flushed.
type ack struct {
	pending atomic.Int32 // batches not yet flushed, + 1 until Commit
	ch      chan struct{}
	mu      sync.Mutex
	res     Result
	err     error
}

func (a *ack) done(points int, refused []refusal, from int32, err error) {
	a.mu.Lock()
	a.res.Points += points
	if len(refused) > 0 && a.res.Refused == 0 {
		a.res.First = refused[0].err
	}
	a.res.Refused += len(refused)
	for _, r := range refused {
		if len(a.res.RefusedAt) == MaxRefusedAt {
			break
		}
		a.res.RefusedAt = append(a.res.RefusedAt, int(r.i-from))
	}
	if err != nil && a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
	if a.pending.Add(-1) == 0 {
		a.ch <- struct{}{}
	}
}

// Write is one acknowledged unit of writing: an HTTP request, a chunk of
// lines from a TCP connection. Between Begin and Commit it owns a receiver
// and appends to that receiver's batch without locking; Commit waits until
// every batch holding its points is in the sink. A Write is for one
// goroutine, and is not used after Commit or Abort.
//
//	w, err := p.Begin(ctx, ingest.Reject)   // ErrBackpressure: answer 429
//	w.Series(format, key)                   // a series…
//	w.Add(nil, t, v)                        // …and its points
//	res, err := w.Commit(ctx)               // acknowledged: res.Points stored
type Write struct {
	p   *Pipeline
	r   *receiver
	b   *Batch
	ack *ack

	joined  bool // registered as a waiter of b
	from    int  // b's point count when this write started on it
	rows    int  // b's row count then
	bufLen  int  // b's byte count then
	points  int  // added so far
	started bool // b had no points when this write took it
}

// Begin starts a write. With the queue of sealed batches full it waits
// (Block) or refuses (Reject) with ErrBackpressure; ErrClosed once the
// pipeline is closing.
func (p *Pipeline) Begin(ctx context.Context, mode Backpressure) (*Write, error) {
	if err := p.admit(ctx, mode); err != nil {
		return nil, err
	}
	if !p.active.enter(&p.closed) {
		return nil, ErrClosed
	}
	r := p.acquire()
	// A batch left full because the queue had no room when its write
	// committed goes now; Begin is the one place allowed to wait for room.
	for len(r.b.points) >= p.opts.BatchSize && !p.enqueue(r) {
		p.signal()
		if err := p.admit(ctx, Block); err != nil && err != ErrBackpressure {
			r.mu.Unlock()
			p.active.exit(&p.closed)
			return nil, err
		}
	}
	w := &r.w
	a := &ack{ch: make(chan struct{}, 1)}
	a.pending.Store(1)
	*w = Write{p: p, r: r, b: r.b, ack: a}
	w.mark()
	return w, nil
}

// mark remembers where this write starts in its batch.
func (w *Write) mark() {
	w.from, w.rows, w.bufLen = len(w.b.points), len(w.b.rows), len(w.b.buf)
	w.joined = false
}

// Series starts a series: the points added next belong to it. key is
// copied; f must be able to turn it (with each point's suffix) into labels.
func (w *Write) Series(f Format, key []byte) {
	w.b.addRow(f, key)
}

// Add adds a point (t in ms) to the current series, with an optional
// suffix for its name (the field of a line-protocol point; copied).
func (w *Write) Add(suffix []byte, t int64, v float64) {
	b := w.b
	if !w.joined {
		w.joined = true
		w.ack.pending.Add(1)
		b.waiters = append(b.waiters, waiter{ack: w.ack, from: int32(len(b.points))})
		if len(b.points) == 0 {
			w.r.since.Store(time.Now().UnixNano())
		}
	}
	b.addPoint(suffix, t, v)
	w.points++
}

// Points is the number of points added so far.
func (w *Write) Points() int { return w.points }

// release hands the receiver back, sealing its batch if full.
func (w *Write) release() {
	p, r := w.p, w.r
	if w.joined {
		b := w.b
		b.waiters[len(b.waiters)-1].to = int32(len(b.points))
		if len(b.points) >= p.opts.BatchSize {
			p.enqueue(r) // if the queue is full, an idle flusher or the next Begin takes it
		}
		if r.b == b {
			r.waiting.Store(true)
		}
	} else if len(w.b.rows) > w.rows {
		w.b.truncate(w.rows, w.from, w.bufLen) // series without points
	}
	joined := w.joined
	r.mu.Unlock() // from here on w is the next write's
	p.active.exit(&p.closed)
	if joined {
		p.signal()
	}
}

// Commit ends the write and waits until its points are in the sink: it is
// End followed by Ack.Wait.
func (w *Write) Commit(ctx context.Context) (Result, error) {
	return w.End().Wait(ctx)
}

// End ends the write (the receiver is free again) without waiting; the
// Ack tells when the points are in the sink. A TCP connection ends one
// chunk of lines and reads the next while the first is being flushed.
func (w *Write) End() *Ack {
	w.p.pending.Add(int64(w.points))
	a := w.ack
	w.release() // w belongs to the receiver: not used after this
	return (*Ack)(a)
}

// Ack is the acknowledgement of an ended write.
type Ack ack

// Wait waits until every batch holding the write's points has been
// flushed (a context error stops the wait, not the write). The error is
// the sink's (wrapping ErrSink) or the context's; refused points are in
// the Result. Wait is called once.
func (a *Ack) Wait(ctx context.Context) (Result, error) {
	if a.pending.Add(-1) != 0 {
		select {
		case <-a.ch:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.res, a.err
}

// Abort ends the write without storing its points. (Every point of a write
// is in the one batch its receiver is filling, so they can all be taken
// back.)
func (w *Write) Abort() {
	if w.joined {
		w.b.waiters = w.b.waiters[:len(w.b.waiters)-1]
		w.joined = false
	}
	w.b.truncate(w.rows, w.from, w.bufLen)
	if len(w.b.points) == 0 {
		w.r.since.Store(0)
	}
	w.release()
}
