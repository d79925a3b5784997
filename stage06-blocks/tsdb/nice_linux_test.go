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
	// 3.5 block ranges of samples: the head is due to be cut.
	ingest(t, db, nil, 3, 0, 60_000, int(opts.BlockRange*7/2/60_000))
	select {
	case n := <-nices:
		if n.err != nil || n.n != 19 {
			t.Fatalf("a block was written at nice %d (%v), want 19", n.n, n.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no block written by background compaction within a minute")
	}
}
