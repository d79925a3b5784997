package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
)

// TestProcsFor: the programs run twice the default Ps, unless the operator
// set GOMAXPROCS.
func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		env         string
		procs, want int
	}{
		{"", 2, 4},
		{"", 1, 2},
		{"", 16, 32},
		{"2", 2, 2},
		{"3", 3, 3},
	} {
		if got := procsFor(c.env, c.procs); got != c.want {
			t.Errorf("procsFor(%q, %d) = %d, want %d", c.env, c.procs, got, c.want)
		}
	}
	if o := sinkOptions(wal.SyncBatch); o.CompactionWorkers != 1 || !o.HeadCutKeepsEncoding || o.ChunkWriteQueue == 0 || o.BackgroundShare <= 0 || o.BackgroundShare >= 1 {
		t.Errorf("sinkOptions: CompactionWorkers %d, HeadCutKeepsEncoding %v, ChunkWriteQueue %d, BackgroundShare %v; want 1, true, some, within (0, 1) (background work leaves the cores to the writes)",
			o.CompactionWorkers, o.HeadCutKeepsEncoding, o.ChunkWriteQueue, o.BackgroundShare)
	}
	for _, p := range []wal.SyncPolicy{wal.SyncBatch, wal.SyncInterval} {
		if o := sinkOptions(p); o.WALSync != p {
			t.Errorf("sinkOptions(%v): WALSync %v", p, o.WALSync)
		}
	}
}

// TestWALSyncFlag: --wal-sync defaults to the capstone's interval, and the
// server and the bench refuse an unknown policy, naming the flag.
func TestWALSyncFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	if p := walSyncFlag(fs); *p != "interval" {
		t.Errorf("--wal-sync defaults to %q, want interval", *p)
	}
	for name, cmd := range map[string]func([]string, io.Writer, io.Writer) error{"server": cmdServer, "bench": cmdBench} {
		err := cmd([]string{"--wal-sync", "sometimes"}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--wal-sync") {
			t.Errorf("%s --wal-sync sometimes: %v, want an error naming --wal-sync", name, err)
		}
	}
}
