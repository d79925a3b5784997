package ingest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// seriesKey is the Pairs key of {__name__="m", w="<w>", s="<s>"}.
func seriesKey(w, s int) []byte {
	k := AppendPair(nil, "__name__", "m")
	k = AppendPair(k, "w", fmt.Sprint(w))
	return AppendPair(k, "s", fmt.Sprint(s))
}

func labelsOf(w, s int, suffix string) string {
	return model.MustFromStrings("__name__", "m"+suffix, "w", fmt.Sprint(w), "s", fmt.Sprint(s)).String()
}

func newPipeline(t *testing.T, sink Sink, o Options) *Pipeline {
	t.Helper()
	p, err := New(sink, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if g, ok := sink.(*gate); ok {
			g.release() // a failed test may leave the gate shut
		}
		p.Close()
	})
	return p
}

// TestAcknowledgedIsStored: concurrent writers, each write acknowledged
// only once its points are in the sink: right after Commit returns, the
// sink must hold them. The oracle is the points each writer sent.
func TestAcknowledgedIsStored(t *testing.T) {
	sink := NewMemorySink()
	p := newPipeline(t, sink, Options{BatchSize: 100, Receivers: 3, Flushers: 2})
	const writers, writes, series = 6, 40, 7
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for wr := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				w, err := p.Begin(context.Background(), Block)
				if err != nil {
					errc <- err
					return
				}
				for s := range series {
					w.Series(Pairs, seriesKey(wr, s))
					w.Add(nil, int64(i), float64(wr*1000+i))
					w.Add([]byte("_x"), int64(i), float64(-i))
				}
				res, err := w.Commit(context.Background())
				if err != nil || res.Points != 2*series || res.Refused != 0 {
					errc <- fmt.Errorf("commit: %+v %v", res, err)
					return
				}
				// Acknowledged: the last sample of each series is stored.
				got := sink.Series()[labelsOf(wr, series-1, "_x")]
				if len(got) != i+1 || got[i] != (model.Sample{T: int64(i), V: float64(-i)}) {
					errc <- fmt.Errorf("writer %d write %d acknowledged but the sink has %v", wr, i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	all := sink.Series()
	if len(all) != writers*series*2 {
		t.Fatalf("%d series stored, want %d", len(all), writers*series*2)
	}
	for wr := range writers {
		for s := range series {
			got := all[labelsOf(wr, s, "")]
			for i := range writes {
				if len(got) != writes || got[i] != (model.Sample{T: int64(i), V: float64(wr*1000 + i)}) {
					t.Fatalf("series w=%d s=%d: %v", wr, s, got)
				}
			}
		}
	}
	st := p.Stats()
	if st.Points != writers*writes*series*2 {
		t.Errorf("stats: %d points flushed", st.Points)
	}
}

// gate is a sink that holds every Write until released, recording the
// batches' sizes.
type gate struct {
	*MemorySink
	open    chan struct{}
	once    sync.Once
	entered chan int // each Write sends its batch's size on entry
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func newGate() *gate {
	return &gate{MemorySink: NewMemorySink(), open: make(chan struct{}), entered: make(chan int, 100)}
}

func (g *gate) Write(b *Batch) error {
	g.entered <- b.Len()
	<-g.open
	return g.MemorySink.Write(b)
}

// commitAsync commits in a goroutine; the result arrives on the channel.
// (End is synchronous: the write has left its receiver on return.)
func commitAsync(w *Write) chan error {
	c := make(chan error, 1)
	a := w.End()
	go func() {
		_, err := a.Wait(context.Background())
		c <- err
	}()
	return c
}

func oneWrite(t *testing.T, p *Pipeline, mode Backpressure, tag, n int) (chan error, error) {
	t.Helper()
	w, err := p.Begin(context.Background(), mode)
	if err != nil {
		return nil, err
	}
	w.Series(Pairs, seriesKey(tag, 0))
	for i := range n {
		w.Add(nil, int64(i), 1)
	}
	return commitAsync(w), nil
}

// TestGroupCommit: while the flusher is busy, the writes that arrive share
// the next batch (one sink write acknowledges all of them); a write that
// arrives while the flusher idles is flushed at once, alone.
func TestGroupCommit(t *testing.T) {
	g := newGate()
	p := newPipeline(t, g, Options{Receivers: 1, Flushers: 1})
	first, _ := oneWrite(t, p, Block, 0, 1)
	if n := <-g.entered; n != 1 {
		t.Fatalf("first batch has %d points, want 1 (an idle flusher takes a waiting write at once)", n)
	}
	var later []chan error
	for i := 1; i <= 5; i++ {
		c, err := oneWrite(t, p, Block, i, 10)
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, c)
	}
	g.release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := <-g.entered; n != 50 {
		t.Fatalf("second batch has %d points, want 50: the five writes grouped", n)
	}
	for _, c := range later {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.Batches != 2 || st.SealedIdle != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSealBySize: a write that brings a batch to BatchSize seals it into
// the queue; the next write starts a new batch.
func TestSealBySize(t *testing.T) {
	g := newGate()
	p := newPipeline(t, g, Options{Receivers: 1, Flushers: 1, BatchSize: 20})
	var cs []chan error
	block, _ := oneWrite(t, p, Block, 0, 1) // keeps the flusher busy
	<-g.entered
	for i := range 4 {
		c, _ := oneWrite(t, p, Block, i+1, 12) // 12, 24 → sealed; 12, 24 → sealed
		cs = append(cs, c)
	}
	if st := p.Stats(); st.SealedFull != 2 || st.Queued != 2 {
		t.Fatalf("after 4 writes of 12 with BatchSize 20: %+v", st)
	}
	g.release()
	for _, c := range append(cs, block) {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if g.Len() != 49 {
		t.Fatalf("%d samples stored", g.Len())
	}
}

// TestSealByAge: while the flusher is busy with queued batches, a filling
// batch older than MaxAge goes before them.
func TestSealByAge(t *testing.T) {
	g := newGate()
	p := newPipeline(t, g, Options{Receivers: 2, Flushers: 1, BatchSize: 5, MaxAge: 20 * time.Millisecond})
	block, _ := oneWrite(t, p, Block, 0, 1)
	<-g.entered
	full, _ := oneWrite(t, p, Block, 1, 5) // sealed by size, queued
	small, _ := oneWrite(t, p, Block, 2, 2)
	// Wait (on a deadline) until the small batch is older than MaxAge.
	deadline := time.Now().Add(10 * time.Second)
	for p.oldest() < 40*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("no batch aged")
		}
		time.Sleep(time.Millisecond)
	}
	g.release()
	order := []int{<-g.entered, <-g.entered}
	if order[0] != 2 || order[1] != 5 {
		t.Fatalf("flushed %v after the first, want the aged batch of 2 before the queued batch of 5", order)
	}
	for _, c := range []chan error{block, full, small} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.SealedAge != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// oldest is the age of the oldest filling batch (tests).
func (p *Pipeline) oldest() time.Duration {
	var o time.Duration
	for i := range p.recv {
		if s := p.recv[i].since.Load(); s != 0 {
			o = max(o, time.Since(time.Unix(0, s)))
		}
	}
	return o
}

// TestBackpressure: with the sink stuck, batches fill the queue; then a
// Reject write is refused at once and a Block write waits BlockTimeout
// and is refused; once the sink moves, Block writes go through, and every
// acknowledged point is stored.
func TestBackpressure(t *testing.T) {
	g := newGate()
	p := newPipeline(t, g, Options{Receivers: 2, Flushers: 1, BatchSize: 4, QueueSize: 2, BlockTimeout: 50 * time.Millisecond})
	var acks []chan error
	c, _ := oneWrite(t, p, Reject, 0, 1)
	acks = append(acks, c)
	<-g.entered
	for i := range 2 { // two full batches fill the queue
		c, err := oneWrite(t, p, Reject, i+1, 4)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, c)
	}
	if st := p.Stats(); st.Queued != st.QueueCap {
		t.Fatalf("queue not full: %+v", st)
	}
	if _, err := oneWrite(t, p, Reject, 9, 1); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("Reject with a full queue: %v", err)
	}
	start := time.Now()
	if _, err := oneWrite(t, p, Block, 9, 1); !errors.Is(err, ErrBackpressure) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("Block with a full queue: %v after %v", err, time.Since(start))
	}
	// A Block write waiting when the sink moves gets in.
	done := make(chan error, 1)
	go func() {
		c, err := oneWrite(t, p, Block, 3, 1)
		if err == nil {
			err = <-c
		}
		done <- err
	}()
	g.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range acks {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if n := g.Len(); n != 1+4+4+1 {
		t.Fatalf("%d samples stored, want 10 (the refused writes added none)", n)
	}
	if st := p.Stats(); st.Rejected != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// refuser refuses negative values and fails batches holding a point at
// t = -1.
type refuser struct{}

func (r *refuser) Write(b *Batch) error {
	for i := range b.Len() {
		if b.At(i).T == -1 {
			return errors.New("disk full")
		}
	}
	for i := range b.Len() {
		if b.At(i).V < 0 {
			b.Refuse(i, fmt.Errorf("negative value %v", b.At(i).V))
		}
	}
	return nil
}

// TestRefusalsGoToTheirWrite: two writes in one batch; each learns about
// its own refused points only. A sink error fails the writes of its batch.
func TestRefusalsGoToTheirWrite(t *testing.T) {
	g := newGate()
	r := &refuser{}
	p := newPipeline(t, SinkFunc(func(b *Batch) error { g.entered <- b.Len(); <-g.open; return r.Write(b) }), Options{Receivers: 1, Flushers: 1})
	t.Cleanup(g.release)
	first, _ := oneWrite(t, p, Block, 0, 1)
	<-g.entered
	results := make([]chan Result, 3)
	values := [][]float64{{1, -2, 3, -4}, {5, 6}, {-7, 8, -9}}
	for i, vs := range values {
		w, err := p.Begin(context.Background(), Block)
		if err != nil {
			t.Fatal(err)
		}
		w.Series(Pairs, seriesKey(i, 0))
		for j, v := range vs {
			w.Add(nil, int64(j), v)
		}
		results[i] = make(chan Result, 1)
		a := w.End()
		go func() {
			res, err := a.Wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			results[i] <- res
		}()
	}
	g.release()
	<-first
	for i, want := range []struct {
		points, refused int
		first           string
		at              []int
	}{{4, 2, "negative value -2", []int{1, 3}}, {2, 0, "", nil}, {3, 2, "negative value -7", []int{0, 2}}} {
		res := <-results[i]
		msg := ""
		if res.First != nil {
			msg = res.First.Error()
		}
		if res.Points != want.points || res.Refused != want.refused || msg != want.first || !slices.Equal(res.RefusedAt, want.at) {
			t.Errorf("write %d: %+v, want %+v", i, res, want)
		}
	}
	w, _ := p.Begin(context.Background(), Block)
	w.Series(Pairs, seriesKey(9, 0))
	w.Add(nil, -1, 1)
	if _, err := w.Commit(context.Background()); !errors.Is(err, ErrSink) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("sink failure: %v", err)
	}
}

// SinkFunc adapts a function to Sink (tests).
type SinkFunc func(*Batch) error

func (f SinkFunc) Write(b *Batch) error { return f(b) }

// TestAbort: an aborted write's points are not stored; the points of the
// writes before it in the same batch are.
func TestAbort(t *testing.T) {
	g := newGate()
	p := newPipeline(t, g, Options{Receivers: 1, Flushers: 1})
	first, _ := oneWrite(t, p, Block, 0, 1)
	<-g.entered
	kept, _ := oneWrite(t, p, Block, 1, 3)
	w, _ := p.Begin(context.Background(), Block)
	w.Series(Pairs, seriesKey(2, 0))
	w.Add(nil, 1, 1)
	w.Series(Pairs, seriesKey(2, 1))
	w.Abort()
	g.release()
	for _, c := range []chan error{first, kept} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if n := <-g.entered; n != 3 {
		t.Fatalf("batch of %d points, want 3", n)
	}
	names := g.Names()
	if len(names) != 2 || strings.Contains(strings.Join(names, " "), `w="2"`) {
		t.Fatalf("stored %v", names)
	}
}

// TestClose: Close flushes what is filling and acknowledges it; Begin is
// refused afterwards.
func TestClose(t *testing.T) {
	sink := NewMemorySink()
	p, err := New(sink, Options{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var cs []chan error
	for i := range 10 {
		c, err := oneWrite(t, p, Block, i, 3)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if sink.Len() != 30 {
		t.Fatalf("%d stored", sink.Len())
	}
	if _, err := p.Begin(context.Background(), Block); !errors.Is(err, ErrClosed) {
		t.Fatalf("Begin after Close: %v", err)
	}
}

// TestCloseWaitsForWrites: Close called while a write is between Begin and
// End waits for it: the points the write adds after Close began are
// flushed and acknowledged before Close returns, and a write begun after
// Close started is refused.
func TestCloseWaitsForWrites(t *testing.T) {
	sink := NewMemorySink()
	p, err := New(sink, Options{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.Begin(context.Background(), Block)
	if err != nil {
		t.Fatal(err)
	}
	w.Series(Pairs, seriesKey(0, 0))
	w.Add(nil, 1, 1)
	closed := make(chan int) // the samples stored when Close returned
	go func() {
		p.Close()
		closed <- sink.Len()
	}()
	for !p.closed.Load() { // Close has begun
		runtime.Gosched()
	}
	if _, err := p.Begin(context.Background(), Block); !errors.Is(err, ErrClosed) {
		t.Fatalf("Begin while closing: %v, want ErrClosed", err)
	}
	w.Add(nil, 2, 2)
	// A safety bound, not a timing assertion: a Close that did not wait
	// has stopped the flushers and this write would never be answered.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := w.Commit(ctx)
	if err != nil || res.Points != 2 {
		t.Fatalf("write across Close: %+v, %v; want 2 points stored", res, err)
	}
	if n := <-closed; n != 2 {
		t.Fatalf("%d samples stored when Close returned, want 2", n)
	}
}

// TestBackpressurePending: batches that never fill do not pass through the
// queue, so the points written but not flushed are bounded too
// (MaxPending): with an empty queue, a write past the bound is refused.
func TestBackpressurePending(t *testing.T) {
	g := newGate()
	p := newPipeline(t, g, Options{Receivers: 2, Flushers: 1, MaxPending: 5})
	first, _ := oneWrite(t, p, Reject, 0, 3)
	<-g.entered // the flusher holds the first write's batch: 3 pending
	second, err := oneWrite(t, p, Reject, 1, 3)
	if err != nil {
		t.Fatalf("3 pending of 5: %v", err)
	}
	if _, err := oneWrite(t, p, Reject, 2, 1); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("6 pending of 5: %v (stats %+v)", err, p.Stats())
	}
	if st := p.Stats(); st.Queued != 0 || st.Pending != 6 {
		t.Fatalf("stats %+v", st)
	}
	g.release()
	for _, c := range []chan error{first, second} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.Pending != 0 {
		t.Fatalf("pending after the flushes: %+v", st)
	}
}
