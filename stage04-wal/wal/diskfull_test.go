package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLogResumesAfterFullDisk: a write that fails half-way (a full disk:
// part of the frame written, then ENOSPC) fails that Log call only. The
// partial frame is cut off, so once there is room the WAL logs again
// without a restart, and a replay finds every record of the calls that
// succeeded, in order, and nothing of the one that failed. A segment that
// cannot be created at rotation fails its Log call the same way.
func TestLogResumesAfterFullDisk(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncBatch, SyncInterval} {
		t.Run(sync.String(), func(t *testing.T) {
			dir := t.TempDir()
			w := mustOpen(t, dir, Options{Sync: sync, SegmentSize: 20 * 100})
			var want [][]byte
			log := func(i int) error {
				err := w.Log(fixedRecord(i))
				if err == nil {
					want = append(want, fixedRecord(i))
				}
				return err
			}
			for i := range 5 {
				if err := log(i); err != nil {
					t.Fatal(err)
				}
			}
			w.writeHook = func(b []byte) (int, error) {
				n, _ := w.seg.Write(b[:len(b)/2])
				return n, syscall.ENOSPC
			}
			if err := log(5); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("write on a full disk: %v, want ENOSPC", err)
			}
			w.writeHook = nil
			for i := 6; i < 18; i++ {
				if err := log(i); err != nil {
					t.Fatalf("record %d, after the disk has room again: %v", i, err)
				}
			}
			// The next segment's name is taken: rotation fails, then works.
			blocker := filepath.Join(dir, SegmentName(w.CurrentSegment()+1))
			if err := os.WriteFile(blocker, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			var rotErr error
			for i := 18; i < 30 && rotErr == nil; i++ {
				rotErr = log(i)
			}
			if rotErr == nil {
				t.Fatal("no Log call needed the next segment")
			}
			os.Remove(blocker)
			for i := 30; i < 45; i++ {
				if err := log(i); err != nil {
					t.Fatalf("record %d, after rotation became possible: %v", i, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, _, err := readAll(t, dir)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("replayed %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("record %d: %q, want %q", i, got[i][:12], want[i][:12])
				}
			}
		})
	}
}
