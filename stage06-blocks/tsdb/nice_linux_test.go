package tsdb

import (
	"syscall"
	"testing"
	"time"
)

// threadNice is the calling thread's nice value.
func threadNice() (int, error) {
	// The system call returns 20 - nice (1 … 40), never a negative value
	// that would look like an error; Go's wrapper returns it unchanged.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - p, err
}

// TestCompactionNice: with Options.CompactionNice, background compaction
// writes its blocks from a thread at that nice value.
func TestCompactionNice(t *testing.T) {
	if n, err := threadNice(); err != nil {
		t.Fatal(err)
	} else if n >= 19 {
		t.Skip("the test runs at nice 19 already: the option's effect would not show")
	}
	opts := testOpts()
	opts.NoBackgroundCompaction = false
	opts.CompactionNice = 19
	type nice struct {
		n   int
		err error
	}
	nices := make(chan nice, 100)
	opts.OnBlockWritten = func(CompactStats) {
		n, err := threadNice()
		nices <- nice{n, err}
	}
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	// 2 block ranges of samples: the head is due to be cut, and not so far
	// behind that the cut runs at the process's priority.
	ingest(t, db, nil, 3, 0, 60_000, int(opts.BlockRange*2/60_000))
	select {
	case n := <-nices:
		if n.err != nil || n.n != 19 {
			t.Fatalf("a block was written at nice %d (%v), want 19", n.n, n.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no block written by background compaction within a minute")
	}
}

// TestCompactionNiceBehind: a head spanning 3 block ranges or more, which
// the lowered thread has not kept up with, is cut at the process's
// priority.
func TestCompactionNiceBehind(t *testing.T) {
	base, err := threadNice()
	if err != nil {
		t.Fatal(err)
	}
	if base >= 10 {
		t.Skip("the test runs at nice 10 or more already: the option's effect would not show")
	}
	dir := t.TempDir()
	opts := testOpts()
	db := openDB(t, dir, opts)
	ingest(t, db, nil, 3, 0, 60_000, int(opts.BlockRange*4/60_000)) // 4 block ranges, not cut
	db.Close()

	opts.NoBackgroundCompaction = false
	opts.CompactionNice = 10
	nices := make(chan int, 100)
	opts.OnBlockWritten = func(CompactStats) {
		n, err := threadNice()
		if err != nil {
			n = -100
		}
		nices <- n
	}
	db = openDB(t, dir, opts)
	defer db.Close()
	ingest(t, db, nil, 3, opts.BlockRange*4, 60_000, 1) // a commit wakes the loop
	select {
	case n := <-nices:
		if n != base {
			t.Fatalf("the first block of a head spanning 4 block ranges was written at nice %d, want the process's %d", n, base)
		}
	case <-time.After(time.Minute):
		t.Fatal("no block written by background compaction within a minute")
	}
}
