package tsdb

import (
	"sync"
	"sync/atomic"
)

// chunkQueue takes the head-chunks file's writes off the Commit path
// (Options.ChunkWriteQueue), as Prometheus's chunk write queue does. When a
// series' chunk becomes full, Commit appends it to the series' unmapped
// chunks, where readers find it in memory as before, and queues the
// series; one goroutine writes each queued series' unmapped chunks to the
// file, oldest first, under the series' lock, and moves them to mmapped.
//
// Why: chunks fill in step. Every series starts a new chunk at a block
// boundary, and series that get a sample in every request fill theirs at
// the same request, so one Commit can find thousands of full chunks, each a
// write system call under the file's single lock, and every other Commit
// waits behind them: the ingestion's worst latencies (stage11 README,
// "Where a request waits"). Queued, those writes cost the same, but no
// acknowledgement waits for them.
//
// Nothing about durability changes: the head-chunks file is never fsynced
// and the WAL holds every sample either way. A series' chunks in the file
// stay its oldest with no gap (WAL replay relies on it), because only
// whoever holds the series' lock writes them, always from the oldest. When
// the queue is full, Commit writes the series' chunks itself, as without
// a queue: the queue bounds the memory that chunks waiting for it take.
type chunkQueue struct {
	h  *Head
	ch chan *memSeries
	// pace, if not nil, paces the goroutine like the background loop
	// (Options.BackgroundShare): every series starts a chunk at a block
	// boundary, so the queue fills with thousands of series at once, and
	// writing them flat out took a core from the commits for a tenth of
	// a second. It starts no rest while half the queue or more waits.
	pace *pacer
	// n counts the series queued and not yet written; drain waits on idle
	// until it is 0.
	n      atomic.Int64
	idleMu sync.Mutex
	idle   *sync.Cond
	stop   chan struct{}
	done   chan struct{}
}

// newChunkQueue starts the queue's goroutine; newPacer makes its pacer
// (nil: not paced), given when else the queue must not rest.
func newChunkQueue(h *Head, size int, newPacer func(hurry func() bool) *pacer) *chunkQueue {
	q := &chunkQueue{h: h, ch: make(chan *memSeries, size), stop: make(chan struct{}), done: make(chan struct{})}
	q.idle = sync.NewCond(&q.idleMu)
	if newPacer != nil {
		q.pace = newPacer(func() bool { return len(q.ch) >= cap(q.ch)/2 })
	}
	go q.run()
	return q
}

// add queues s, whose unmapped chunks have just grown. Called with s.mu
// held. False: the queue is full, and the caller writes them itself.
func (q *chunkQueue) add(s *memSeries) bool {
	q.n.Add(1) // before the send: the goroutine may finish s at once
	select {
	case q.ch <- s:
		return true
	default:
		q.finished()
		return false
	}
}

func (q *chunkQueue) run() {
	defer close(q.done)
	for {
		if q.pace != nil {
			if len(q.ch) > 0 {
				q.pace.step()
			} else {
				q.pace.idle()
			}
		}
		select {
		case s := <-q.ch:
			q.write(s)
		case <-q.stop:
			return
		}
	}
}

// write maps what s holds unmapped. A series may be queued more than
// once (a chunk filled again before its turn came): the first turn writes
// them all and the others find nothing to do.
func (q *chunkQueue) write(s *memSeries) {
	s.mu.Lock()
	if x := s.extra; x != nil && len(x.unmapped) > 0 {
		q.h.mapChunks(s, x.unmapped)
	}
	s.mu.Unlock()
	q.finished()
}

// finished counts one queued series done; the last wakes drain. drain
// checks n under idleMu and finished broadcasts under it, so no wake-up is
// lost between the check and the wait.
func (q *chunkQueue) finished() {
	if q.n.Add(-1) == 0 {
		q.idleMu.Lock()
		q.idle.Broadcast()
		q.idleMu.Unlock()
	}
}

// drain writes every series queued so far, on the caller's goroutine too,
// and returns once the queue's goroutine has finished the one it took.
func (q *chunkQueue) drain() {
	for {
		select {
		case s := <-q.ch:
			q.write(s)
			continue
		default:
		}
		break
	}
	q.idleMu.Lock()
	for q.n.Load() > 0 {
		q.idle.Wait()
	}
	q.idleMu.Unlock()
}

// close drains the queue and stops its goroutine. A Commit after it (none
// applies: the WAL is closed first) would leave its chunks in memory, and
// the WAL has their samples for the next Open.
func (q *chunkQueue) close() {
	q.drain()
	close(q.stop)
	<-q.done
}
