package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond (yielding the CPU) until it holds; a generous deadline
// only turns a hang into a failure, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// Group commit, made deterministic: the first appender's fsync is held
// until seven more appenders have written; the next fsync must cover all
// seven. Eight durable Log calls, two fsyncs. With SyncAlways the same
// calls take eight.
func TestGroupCommitSharesFsync(t *testing.T) {
	for _, tc := range []struct {
		policy SyncPolicy
		want   int64
	}{{SyncBatch, 2}, {SyncAlways, 8}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			w := mustOpen(t, t.TempDir(), Options{Sync: tc.policy})
			entered := make(chan struct{}, 16)
			release := make(chan struct{})
			var once sync.Once
			w.syncHook = func() error {
				entered <- struct{}{}
				once.Do(func() { <-release })
				return nil
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			logOne := func(i int) {
				defer wg.Done()
				errs <- w.Log([]byte{9, byte(i)})
			}
			wg.Add(1)
			go logOne(0)
			<-entered // appender 0 is inside its fsync
			for i := 1; i < 8; i++ {
				wg.Add(1)
				go logOne(i)
			}
			if tc.policy == SyncBatch {
				waitFor(t, "seven appenders to write", func() bool { return w.Stats().Records == 8 })
			}
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := w.Stats().Fsyncs; got != tc.want {
				t.Errorf("%d fsyncs for 8 durable Log calls, want %d", got, tc.want)
			}
		})
	}
}

// SyncInterval: Log does not fsync; each tick does; SyncNone never does.
func TestIntervalAndNone(t *testing.T) {
	tick := make(chan time.Time)
	w := mustOpen(t, t.TempDir(), Options{Sync: SyncInterval, tick: tick})
	for i := range 5 {
		if err := w.Log([]byte{1, byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.Stats().Fsyncs; n != 0 {
		t.Fatalf("%d fsyncs before the first tick", n)
	}
	tick <- time.Time{}
	waitFor(t, "the tick's fsync", func() bool { return w.Stats().Fsyncs == 1 })
	tick <- time.Time{} // nothing new written: the synced position covers it
	tick <- time.Time{} // (the loop took the previous tick, so it has finished it)
	if n := w.Stats().Fsyncs; n != 1 {
		t.Fatalf("%d fsyncs after idle ticks, want 1", n)
	}

	n := mustOpen(t, t.TempDir(), Options{Sync: SyncNone, SegmentSize: 64})
	for i := range 10 {
		if err := n.Log(make([]byte, 40)[:0:0], []byte{1, byte(i)}); err == nil {
			t.Fatal("empty record accepted")
		}
		if err := n.Log([]byte{1, byte(i)}, make([]byte, 30)); err == nil {
			t.Fatal("record of type 0 accepted")
		}
		if err := n.Log([]byte{1, byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.Fsyncs != 0 {
		t.Errorf("SyncNone made %d fsyncs", s.Fsyncs)
	}
}

// A failed fsync is sticky: the caller whose bytes it covered gets the
// error, and so does every later Log and Close; nothing more is written.
func TestFsyncErrorIsSticky(t *testing.T) {
	w, err := Open(t.TempDir(), Options{Sync: SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	w.syncHook = func() error { return boom }
	if err := w.Log([]byte{1}); !errors.Is(err, boom) {
		t.Fatalf("Log: %v, want the fsync error", err)
	}
	w.syncHook = nil
	before := w.Stats().Bytes
	if err := w.Log([]byte{1}); !errors.Is(err, boom) {
		t.Fatalf("second Log: %v, want the sticky error", err)
	}
	if w.Stats().Bytes != before {
		t.Fatal("a Log after a failed fsync wrote bytes")
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Log([]byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Log after Close: %v", err)
	}
}

// Many appenders under every policy, with small segments so rotation races
// with group commit: every record comes back, each appender's in its order.
// Run with -race.
func TestConcurrentAppenders(t *testing.T) {
	const appenders, perAppender = 8, 150
	for _, p := range []SyncPolicy{SyncBatch, SyncAlways, SyncInterval, SyncNone} {
		t.Run(p.String(), func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{Sync: p, SegmentSize: 4096, SyncInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range appenders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perAppender {
						rec := binary.LittleEndian.AppendUint32([]byte{7, byte(g)}, uint32(i))
						var err error
						if i%3 == 0 { // several records in one call
							err = w.Log(rec, append([]byte{8, byte(g)}, rec[2:]...))
						} else {
							err = w.Log(rec)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			recs, stats, err := readAll(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(stats) < 5 {
				t.Errorf("only %d segments: rotation not exercised", len(stats))
			}
			next := make([]uint32, appenders)
			for _, r := range recs {
				g, i := r[1], binary.LittleEndian.Uint32(r[2:])
				switch r[0] {
				case 7:
					if i != next[g] {
						t.Fatalf("appender %d: record %d after %d", g, i, next[g])
					}
					next[g]++
				case 8:
					if i != next[g]-1 {
						t.Fatalf("appender %d: second record of call %d out of place", g, i)
					}
				}
			}
			for g, n := range next {
				if n != perAppender {
					t.Errorf("appender %d: %d records, want %d", g, n, perAppender)
				}
			}
		})
	}
}

func TestParseSyncPolicy(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncBatch, SyncInterval, SyncNone} {
		if q, err := ParseSyncPolicy(p.String()); err != nil || q != p {
			t.Errorf("%v: %v %v", p, q, err)
		}
	}
	if _, err := ParseSyncPolicy("sometimes"); err == nil {
		t.Error("sometimes accepted")
	}
	if _, err := Open(t.TempDir(), Options{Sync: SyncPolicy(9)}); err == nil {
		t.Error(fmt.Sprint("Open accepted policy 9"))
	}
}
