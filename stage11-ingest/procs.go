package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/gcfloor"
)

// Ps for the programs here: twice the default (the cores the process may
// use), unless GOMAXPROCS is set.
//
// Why: a goroutine in a system call that blocks in the kernel, which file
// I/O always does in Go (the WAL's group-commit fsync, a head chunk's
// pwrite, compaction writing a block), keeps its P until the runtime's
// monitor hands the P to another thread, and that monitor wakes only every
// 20 µs to 10 ms, less often the longer it has found nothing to do. On two
// cores with two Ps, a group-commit leader in fsync and a head cut in a
// write leave no P to the HTTP handlers and flushers that are ready to
// run, and the requests queue behind the disk although a core is idle.
// With more Ps than cores the kernel runs the ready goroutines on the idle
// core meanwhile. Measured (stage11 README, "Where a request waits"): the
// closed-loop maximum rose from 3.3-3.6M to 4.5-4.9M values/s, and at
// 1.5M values/s the steady p99 fell from a median of 32 ms to 13 ms (with
// a merge on one goroutine too, sinkOptions), both with the WAL fsynced
// before each answer (--wal-sync batch). With the default, interval, the
// fsyncs are off the answers' path and the Ps matter less, but 4 still beat
// 3 at 2.35M values/s (p99 7.1 and 11 ms against 16-18, 3 pairs).
func procsFor(env string, procs int) int {
	if env != "" {
		return procs // the operator's choice
	}
	return 2 * procs
}

// sinkOptions is stage06's configuration for a process that writes while
// it compacts, its WAL fsynced as sync says (--wal-sync). A block merge
// encodes on one goroutine (the default is one per core), so it takes one
// core at a time and leaves the others to the writes; a merge then takes
// longer, and nothing waits for it. A head cut copies the head's chunks as
// they are (HeadCutKeepsEncoding): the Integer re-encoding of all-integer
// chunks was two thirds of a cut's time, for 2 h blocks that the first
// merge encodes again anyway. Full head chunks go to the head-chunks file
// through a queue (ChunkWriteQueue) instead of from the Commit that filled
// them: every series starts a chunk at a block boundary, so the first
// commits past one found thousands to write; the queue holds up to a
// series per pointer of channel (1 MiB for 131,072 series), and each
// waiting chunk keeps its bytes on the heap until its turn (up to a few
// hundred bytes a chunk: tens of MiB if every queued series waits). The
// background loop's cuts, WAL checkpoints and merges, and the chunk write
// queue, are paced to half a core (BackgroundShare): with more Ps than
// cores, a cut that yields between series is picked up again by an idle P
// at once and keeps its core, and the writes queue on the other for as
// long as it runs; paced, it rests a slice for each slice it works (it
// stops resting if the head falls 3 block ranges behind). At 2.35M
// values/s the steady p99 fell from 8.9-16 ms to 4.5-7.9 ms at under 2 %
// steal with the cuts and merges paced; pacing the checkpoint and the
// queue too took most of what was left at 2.7M/s (stage11 README).
func sinkOptions(sync wal.SyncPolicy) tsdb.Options {
	return tsdb.Options{WALSync: sync, CompactionWorkers: 1, HeadCutKeepsEncoding: true, ChunkWriteQueue: 1 << 17, BackgroundShare: 0.5}
}

// walSyncFlag defines --wal-sync, the capstone's --wal.sync under this
// stage's flag style, with the same default.
func walSyncFlag(fs *flag.FlagSet) *string {
	return fs.String("wal-sync", "interval", fmt.Sprintf("when the WAL is fsynced: interval (a write is answered once written to the OS, fsynced every %v: survives kill -9, a power cut may lose the last %[1]v), batch (answered once fsynced, group commit: survives a power cut), always, none", wal.DefaultSyncInterval))
}

// walSyncText says what an answered write survives under p, for the
// programs' headers.
func walSyncText(p wal.SyncPolicy) string {
	switch p {
	case wal.SyncBatch:
		return "answered once fsynced, group commit: survives a power cut"
	case wal.SyncAlways:
		return "answered once fsynced, one fsync per flush: survives a power cut"
	case wal.SyncInterval:
		return fmt.Sprintf("answered once written to the OS, fsynced every %v: survives kill -9", wal.DefaultSyncInterval)
	}
	return "answered once written to the OS, never fsynced: survives kill -9, not a power cut"
}

// raiseProcs applies procsFor to this process.
func raiseProcs(env string) {
	runtime.GOMAXPROCS(procsFor(env, runtime.GOMAXPROCS(0)))
}

// gcFloor is the least heap goal the programs give the garbage collector
// (gcfloor) unless GOGC is set. The bench's 10,000 series leave 45-60
// MiB live while 2.7M values a second allocate about 45 MiB a second
// (request buffers, chunks, blocks being cut, both sides of the loopback
// HTTP): at GOGC=100 a collection every second or so, each taking one P of
// the four for 20-40 ms of marking, half of the two cores, and a trace put
// most of the requests slower than 10 ms left at 2.7M values/s in those
// cycles. With the floor, one every 2 s or so (14 in a 30 s run instead of
// 94-96); a heap whose live part is 128 MiB or more (a server with a few
// hundred thousand series) collects at GOGC=100 as before. Alternated 20 s
// runs at 2.7M values/s: whole-run p99 6.3, 6.3 and 14 ms against 11, 20
// and 35 without the floor (README, "Two more, and the target met").
const gcFloor = 256 << 20

// startGCFloor applies gcFloor unless the operator set GOGC (env).
func startGCFloor(env string) {
	if env == "" {
		gcfloor.Start(gcFloor)
	}
}

// procsLine says how many Ps the process runs and how its collector is
// set, for the programs' headers.
func procsLine(env string) string {
	why := "GOMAXPROCS unset: twice the CPUs"
	if env != "" {
		why = "GOMAXPROCS=" + env
	}
	gc := fmt.Sprintf("heap goal at least %d MiB, GOGC=100 above it (GOGC unset)", gcFloor>>20)
	if g := os.Getenv("GOGC"); g != "" {
		gc = "GOGC=" + g
	}
	return fmt.Sprintf("Go scheduler: %d Ps on %d CPUs (%s); collector: %s", runtime.GOMAXPROCS(0), runtime.NumCPU(), why, gc)
}
