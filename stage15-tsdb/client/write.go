package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// remoteWriteHeader is what remote write 1.0 sends with every request.
var remoteWriteHeader = http.Header{
	"Content-Type":                      {"application/x-protobuf"},
	"Content-Encoding":                  {"snappy"},
	"X-Prometheus-Remote-Write-Version": {"0.1.0"},
}

// Write sends series by remote write 1.0, in requests of at most
// Options.BatchSamples samples (a series with more samples is split
// across requests, in time order). Requests go one after another; the
// first that fails ends the call, and the error says how many samples were
// acknowledged before it. A 400 answer means the server kept the valid
// samples of that request and refused the rest (out of order, duplicate…).
func (c *Client) Write(ctx context.Context, series []remote.Series) error {
	var batch []remote.Series
	n, sent := 0, 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := c.send(ctx, batch); err != nil {
			return &WriteError{Acked: sent, Err: err}
		}
		sent += n
		batch, n = batch[:0], 0
		return nil
	}
	for _, s := range series {
		samples := s.Samples
		for len(samples) > 0 {
			k := min(len(samples), c.opts.BatchSamples-n)
			batch = append(batch, remote.Series{Labels: s.Labels, Samples: samples[:k]})
			samples = samples[k:]
			if n += k; n == c.opts.BatchSamples {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// WriteError is a failed Write: Acked samples were acknowledged before the
// request that failed with Err.
type WriteError struct {
	Acked int
	Err   error
}

func (e *WriteError) Error() string {
	return "client: write failed after " + strconv.Itoa(e.Acked) + " samples acknowledged: " + e.Err.Error()
}

func (e *WriteError) Unwrap() error { return e.Err }

// send encodes one request and posts it.
func (c *Client) send(ctx context.Context, batch []remote.Series) error {
	raw := remote.AppendWriteRequest(nil, batch)
	return c.SendRaw(ctx, remote.Compress(nil, raw))
}

// SendRaw posts an already encoded and snappy-compressed remote-write
// request (a load generator builds its requests ahead of time).
func (c *Client) SendRaw(ctx context.Context, compressed []byte) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/write", body: compressed, header: remoteWriteHeader})
	return err
}

// Writer streams samples to the server: Append buffers them, grouped by
// series, and sends a request whenever Options.BatchSamples are buffered.
// Samples are spread over a few shards by series, each with its own
// sender, so that several requests are in flight while the samples of one
// series still arrive in the order they were appended (the server refuses
// a sample older than its series' newest one).
//
// Append and Flush are for one goroutine; Close must be called.
type Writer struct {
	c      *Client
	ctx    context.Context
	shards []*shard
	closed bool

	mu    sync.Mutex
	err   error // the first send that failed
	acked int64
	onAck func(n int)
	wg    sync.WaitGroup
}

type shard struct {
	series []remote.Series
	index  map[uint64][]int // series hash -> positions in series
	n      int
	out    chan []remote.Series
}

// NewWriter returns a writer with concurrency senders (at least 1). onAck,
// if not nil, is called (from a sender goroutine) with the number of
// samples of each acknowledged request.
func (c *Client) NewWriter(ctx context.Context, concurrency int, onAck func(n int)) *Writer {
	w := &Writer{c: c, ctx: ctx, onAck: onAck}
	for range max(concurrency, 1) {
		s := &shard{index: map[uint64][]int{}, out: make(chan []remote.Series, 1)}
		w.shards = append(w.shards, s)
		w.wg.Add(1)
		go w.sender(s)
	}
	return w
}

func (w *Writer) sender(s *shard) {
	defer w.wg.Done()
	for batch := range s.out {
		if w.Err() != nil {
			continue // drain: a failed writer sends nothing more
		}
		err := w.c.send(w.ctx, batch)
		n := 0
		for _, s := range batch {
			n += len(s.Samples)
		}
		w.mu.Lock()
		if err != nil && w.err == nil {
			w.err = &WriteError{Acked: int(w.acked), Err: err}
		}
		if err == nil {
			w.acked += int64(n)
		}
		w.mu.Unlock()
		if err == nil && w.onAck != nil {
			w.onAck(n)
		}
	}
}

// Err is the first failure of a send, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Acked is the number of samples acknowledged so far.
func (w *Writer) Acked() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// Append buffers one sample of the series lset (ms timestamp). It returns
// the error of an earlier failed send, after which nothing more is sent.
func (w *Writer) Append(lset model.Labels, t int64, v float64) error {
	if w.closed {
		return ErrClosed
	}
	if err := w.Err(); err != nil {
		return err
	}
	h := lset.Hash()
	s := w.shards[h%uint64(len(w.shards))]
	i := -1
	for _, j := range s.index[h] {
		if s.series[j].Labels.Equal(lset) {
			i = j
			break
		}
	}
	if i < 0 {
		i = len(s.series)
		s.series = append(s.series, remote.Series{Labels: lset})
		s.index[h] = append(s.index[h], i)
	}
	s.series[i].Samples = append(s.series[i].Samples, model.Sample{T: t, V: v})
	if s.n++; s.n >= w.c.opts.BatchSamples {
		w.flushShard(s)
	}
	return nil
}

func (w *Writer) flushShard(s *shard) {
	if s.n == 0 {
		return
	}
	s.out <- s.series
	s.series, s.n = nil, 0
	clear(s.index)
}

// Flush hands every buffered sample to the senders (it does not wait for
// them: Close does).
func (w *Writer) Flush() {
	if w.closed {
		return
	}
	for _, s := range w.shards {
		w.flushShard(s)
	}
}

// Close flushes, waits for every request to be answered and returns the
// first failure.
func (w *Writer) Close() error {
	if w.closed {
		return w.Err()
	}
	w.Flush()
	w.closed = true
	for _, s := range w.shards {
		close(s.out)
	}
	w.wg.Wait()
	return w.Err()
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("client: writer closed")
