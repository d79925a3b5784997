package wal

import (
	"testing"
	"time"
)

// A rotation leaves the fsync of the segment it closes to the group-commit
// leader, outside the append lock: while that fsync is held (by the hook),
// the lock is free, so other appenders can write into the new segment.
// Before the change the rotation fsynced under the lock and TryLock failed.
func TestRotationFsyncOutsideAppendLock(t *testing.T) {
	w := mustOpen(t, t.TempDir(), Options{Sync: SyncBatch, SegmentSize: 1024, Compression: CompressionNone})
	if err := w.Log(fixedRecord(0)); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}, 8), make(chan struct{})
	w.syncHook = func() error {
		entered <- struct{}{}
		<-release
		return nil
	}
	defer func() { w.syncHook = nil }()
	big := make([]byte, 1000)
	big[0] = 0x42
	done := make(chan error, 1)
	go func() { done <- w.Log(big) }() // does not fit: rotates
	<-entered                          // the first fsync after the rotation is held
	if !w.mu.TryLock() {
		t.Error("the append lock is held while a rotation's fsync runs")
	} else {
		w.mu.Unlock()
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := w.CurrentSegment(); got != 1 {
		t.Fatalf("segment %d after the rotation, want 1", got)
	}
}

// An acknowledged Log after a rotation covers the segment rotated out too:
// the leader fsyncs it (then the new one) before it returns. Without the
// fsync of the sealed segment the second Log would count one fsync.
func TestRotationAckCoversSealedSegment(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncBatch, SyncAlways} {
		t.Run(policy.String(), func(t *testing.T) {
			w := mustOpen(t, t.TempDir(), Options{Sync: policy, SegmentSize: 1024, Compression: CompressionNone})
			if err := w.Log(fixedRecord(0)); err != nil {
				t.Fatal(err)
			}
			before := w.Stats().Fsyncs
			big := make([]byte, 1000)
			big[0] = 0x42
			if err := w.Log(big); err != nil {
				t.Fatal(err)
			}
			if got := w.Stats().Fsyncs - before; got != 2 {
				t.Fatalf("%d fsyncs for a Log that rotated, want 2 (the closed segment, then the new one)", got)
			}
			w.mu.Lock()
			n := len(w.sealed)
			w.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d sealed segments left open after an acknowledged Log", n)
			}
		})
	}
}

// Close fsyncs and closes segments sealed by a rotation that no leader has
// synced yet (SyncInterval: Log does not wait), and the log replays whole.
func TestCloseSyncsSealedSegments(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Sync: SyncInterval, SegmentSize: 1024, Compression: CompressionNone, tick: make(chan time.Time)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if err := w.Log(fixedRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	n := len(w.sealed)
	w.mu.Unlock()
	if n == 0 {
		t.Fatal("no segment sealed: the test does not exercise Close's part")
	}
	before := w.Stats().Fsyncs
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.Stats().Fsyncs - before; got != int64(n)+1 {
		t.Fatalf("Close made %d fsyncs, want %d (each sealed segment and the last)", got, n+1)
	}
	recs, _, err := readAll(t, dir)
	if err != nil || len(recs) != 30 {
		t.Fatalf("replayed %d records, err %v; want 30", len(recs), err)
	}
}
