package tsdb

import (
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// TestChunkWriteQueue: with Options.ChunkWriteQueue no Commit waits for
// the head-chunks file. While the queue's goroutine is stuck in a write,
// commits of other series return and every sample of theirs is readable,
// the chunks waiting for the file from memory; once it moves on, every
// chunk is in the file. Close writes what is queued before it returns (on
// its own goroutine while the queue's is stuck), and a restart re-maps
// every chunk and reads every sample once.
func TestChunkWriteQueue(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.ChunkWriteQueue = 1000
	db := openDB(t, dir, opts)
	o := oracle{}

	stuck := lbls("stuck")
	entered, release := make(chan struct{}), make(chan struct{})
	hc := db.head.hc
	othersWritten := make(chan struct{}, 100)
	stuckRef := appendOneByOne(t, db, o, stuck, 0, 1)
	// The hook is set before the goroutine has anything to write: the
	// channel send of the first queued series orders it before its read.
	db.head.writeChunk = func(series uint64, mint, maxt int64, data []byte) (chunks.Ref, error) {
		if series == stuckRef && mint == 0 {
			close(entered)
			<-release
		} else if series != stuckRef {
			othersWritten <- struct{}{}
		}
		return hc.Write(series, mint, maxt, data)
	}
	appendOneByOne(t, db, o, stuck, 1, SamplesPerChunk) // the 121st sample fills the first chunk
	<-entered

	// 20 series fill two chunks each while the goroutine is stuck.
	done := make(chan error, 1)
	others := oracle{}
	go func() { done <- ingestErr(db, others, 20, 0, 1000, 250) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Commit waited for the head-chunks file")
	}
	for k, v := range others {
		o[k] = v
	}
	m := index.MustNewMatcher(index.MatchEqual, model.MetricName, "m")
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64, m), others.expect(math.MinInt64, math.MaxInt64, nil))

	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	deadline := time.After(time.Minute)
	for range 40 {
		select {
		case <-othersWritten:
		case <-deadline:
			t.Fatal("Close did not write the queued chunks")
		}
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	reopenRemapped(t, dir, opts, o, 41).Close()
}

// TestChunkWriteQueueFull: when the queue is full, Commit writes the
// series' waiting chunks itself, oldest first. Series b is stuck in the
// goroutine's write; a's first full chunk fills the queue of one, so the
// Commit that fills a's second writes both. A copy of the directory taken
// then (what a crash leaves) opens with every sample: the file holds a's
// oldest chunks with no gap, and b's, not in the file yet, replay from the
// WAL. Once b's write goes on, the restart re-maps all three chunks.
func TestChunkWriteQueueFull(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.ChunkWriteQueue = 1
	db := openDB(t, dir, opts)
	o := oracle{}
	hc := db.head.hc
	entered, release := make(chan struct{}), make(chan struct{})
	var bRef uint64
	db.head.writeChunk = func(series uint64, mint, maxt int64, data []byte) (chunks.Ref, error) {
		if series == bRef {
			close(entered)
			<-release
		}
		return hc.Write(series, mint, maxt, data)
	}
	b, a := lbls("b"), lbls("a")
	// b's ref is known before its chunk fills: the first Append makes it.
	bRef = appendOneByOne(t, db, o, b, 0, 1)
	appendOneByOne(t, db, o, b, 1, SamplesPerChunk) // b's first chunk full: queued, taken, stuck
	<-entered
	appendOneByOne(t, db, o, a, 0, 2*SamplesPerChunk+1) // a fills two chunks: queued, then written by Commit

	crash := t.TempDir()
	if err := os.CopyFS(crash, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	cdb := openDB(t, crash, opts)
	if rec := cdb.Recovery(); rec.HeadChunks != 2 || rec.HeadChunksErr != nil {
		t.Errorf("the crash copy re-mapped %d chunks (%v), want a's 2", rec.HeadChunks, rec.HeadChunksErr)
	}
	equalResults(t, collect(t, cdb, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	cdb.Close()

	close(release)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	reopenRemapped(t, dir, opts, o, 3).Close()
}

// appendOneByOne appends samples k = from … from+n-1 of l (at k seconds,
// value k), one commit each, into db and o, and returns l's ref.
func appendOneByOne(t *testing.T, db *DB, o oracle, l model.Labels, from, n int) uint64 {
	t.Helper()
	var ref uint64
	for k := from; k < from+n; k++ {
		app := db.Appender(nil)
		var err error
		if ref, err = app.Append(ref, l, int64(k)*1000, float64(k)); err != nil {
			t.Fatal(err)
		}
		o.add(l, int64(k)*1000, float64(k))
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return ref
}

// reopenRemapped opens the DB in dir again and checks that the restart
// re-mapped want head chunks and that every sample of o is there.
func reopenRemapped(t *testing.T, dir string, opts Options, o oracle, want int) *DB {
	t.Helper()
	db := openDB(t, dir, opts)
	if rec := db.Recovery(); rec.HeadChunks != want || rec.HeadChunksErr != nil {
		db.Close()
		t.Fatalf("restart re-mapped %d chunks (%v), want %d", rec.HeadChunks, rec.HeadChunksErr, want)
	}
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	return db
}

// TestChunkWriteQueuePaced: with BackgroundShare the queue's goroutine
// works a slice, then rests the slice's share, while series are queued,
// except while half the queue or more waits; the time it waits for work
// does not count as a slice worked. A fake clock charges each chunk write
// 100µs: 200 series fill a chunk in one commit (held at the first write
// until the commit is done, so the others wait in the queue of 256), then,
// a second later, again.
func TestChunkWriteQueuePaced(t *testing.T) {
	opts := testOpts()
	opts.ChunkWriteQueue = 256
	opts.BackgroundShare = 0.5
	var clock atomic.Int64
	opts.paceNow = func() time.Time { return time.Unix(0, clock.Load()) }
	var mu sync.Mutex
	var rests []time.Duration
	opts.sleep = func(d time.Duration) {
		mu.Lock()
		rests = append(rests, d)
		mu.Unlock()
		clock.Add(int64(d))
	}
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	hc, hold := db.head.hc, make(chan chan struct{}, 1)
	db.head.writeChunk = func(series uint64, mint, maxt int64, data []byte) (chunks.Ref, error) {
		select {
		case c := <-hold:
			<-c
		default:
		}
		clock.Add(int64(100 * time.Microsecond))
		return hc.Write(series, mint, maxt, data)
	}
	o, next := oracle{}, 0
	for burst := range 2 {
		release := make(chan struct{})
		hold <- release
		// Sample k×120 of a series cuts its chunk k-1: the last commit of
		// a burst, so no commit waits for the held series.
		to := (burst + 1) * SamplesPerChunk
		ingest(t, db, o, 200, int64(next)*1000, 1000, to-next+1)
		next = to + 1
		close(release)
		q := db.head.cq
		q.idleMu.Lock()
		for q.n.Load() > 0 {
			q.idle.Wait()
		}
		q.idleMu.Unlock()
		mu.Lock()
		got := slices.Clone(rests)
		mu.Unlock()
		// 199 queued writes of 100µs: no rest while 128 or more wait
		// (the slices worked meanwhile are forgotten), then a rest after
		// every 20 writes: at 119, 99, 79, 59, 39 and 19 waiting.
		if len(got) != 6*(burst+1) {
			t.Fatalf("burst %d: rests %v, want 6 a burst", burst, got)
		}
		for _, d := range got {
			if d != paceSlice {
				t.Fatalf("burst %d: rests %v, want each %v (2 ms worked at share 0.5; the wait between bursts is no work)", burst, got, paceSlice)
			}
		}
		clock.Add(int64(time.Second))
	}
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
}
