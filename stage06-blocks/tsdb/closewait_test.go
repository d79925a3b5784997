package tsdb

import (
	"testing"
)

// TestCloseWaitsForQueriers: a querier opened before Close keeps reading
// the head's memory-mapped chunks while Close runs. Close must wait for it
// before unmapping them (reading an unmapped page kills the process), and
// a querier asked for after Close began gets ErrClosed.
func TestCloseWaitsForQueriers(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	o := oracle{}
	ingest(t, db, o, 5, 0, 1000, 600) // several full chunks per series, in chunks_head
	if db.head.hc == nil {
		t.Fatal("no head-chunks file: the test would not read mapped chunks")
	}
	q, err := db.Querier(0, 600_000)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 1)
	db.readers.draining = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("Close returned (%v) while a querier was open", err)
	}
	if _, err := db.Querier(0, 1); err != ErrClosed {
		t.Fatalf("Querier during Close: err %v, want ErrClosed", err)
	}
	equalResults(t, collectQ(t, q), o.expect(0, 600_000, nil))
	select {
	case err := <-done:
		t.Fatalf("Close returned (%v) before the querier was closed", err)
	default:
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
