package tsdb

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// The crash tests run the test binary itself as the writer: TestMain sees
// the environment variable and becomes the child, which ingests (and, in
// "compact" mode, cuts blocks and compacts in a loop) and prints "ack K"
// after each Commit returns. The parent kills it with SIGKILL at a random
// moment, reopens the directory and checks every acknowledged sample.
const (
	crashEnvDir  = "TSDB_CRASH_CHILD_DIR"
	crashEnvMode = "TSDB_CRASH_CHILD_MODE"
	crashEnvComp = "TSDB_CRASH_CHILD_WAL_COMPRESSION"
	crashSeries  = 50
	crashStep    = int64(1000)
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnvDir); dir != "" {
		c, err := wal.ParseCompression(os.Getenv(crashEnvComp))
		if err == nil {
			err = crashChild(dir, os.Getenv(crashEnvMode), c)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashPastSeries are the series the "past" mode writes backwards in time,
// one sample per commit each, below the head's lower bound once blocks are
// cut: out-of-order samples that go to the past stores.
const crashPastSeries = 5

// crashOpts: small blocks, WAL segments and head-chunks files, so that a
// run cuts blocks, checkpoints and removes head-chunks files many times;
// in "past" mode, an out-of-order window that takes every sample; in
// "queue" mode, a chunk write queue.
func crashOpts(mode string, c wal.Compression) Options {
	o := Options{BlockRange: 20 * crashStep, WALSync: wal.SyncBatch, NoBackgroundCompaction: true, WALCompression: c,
		HeadChunkFileSize: 64 << 10, WALSegmentSize: 64 << 10,
		CompactionRanges: []int64{20 * crashStep, 60 * crashStep, 180 * crashStep}}
	if mode == "past" {
		o.OutOfOrderWindow = 1 << 50
	}
	if mode == "queue" {
		o.ChunkWriteQueue = 8 // small: Commits find it full too
	}
	return o
}

// crashFresh is how many new series each commit of the "refs" mode
// creates through SeriesRefs.
const crashFresh = 3

func crashFreshLabels(k int64, j int) model.Labels {
	return lbls("fresh", "k", strconv.FormatInt(k, 10), "j", strconv.Itoa(j))
}

func crashValue(i int, k int64) float64 { return float64(i)*1e6 + float64(k) + 0.25 }

func crashChild(dir, mode string, c wal.Compression) error {
	db, err := Open(dir, crashOpts(mode, c))
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	// Continue after what a previous run committed.
	start := db.Head().MaxTime()/crashStep + 1
	for _, b := range db.Blocks() {
		start = max(start, b.MaxTime/crashStep)
	}
	start = max(start, 0)
	if mode == "compact" || mode == "past" || mode == "queue" {
		go func() {
			for {
				if err := db.Compact(); err != nil {
					return
				}
			}
		}()
	}
	refs := make([]uint64, crashSeries)
	var histRef uint64
	for k := start; k < start+1_000_000; k++ {
		app := db.Appender(nil)
		if mode == "refs" {
			// The series are resolved in one call: all of them on
			// the first commit (created, or found after a restart),
			// and crashFresh new ones on every commit, whose
			// series records go into the commit's one record.
			sa := app.(SeriesAppender)
			if k == start {
				lsets := make([]model.Labels, crashSeries)
				for i := range lsets {
					lsets[i] = lbls("crash", "i", strconv.Itoa(i))
				}
				if err := sa.SeriesRefs(lsets, refs, nil); err != nil {
					return err
				}
			}
			var fresh [crashFresh]model.Labels
			var frefs [crashFresh]uint64
			for j := range fresh {
				fresh[j] = crashFreshLabels(k, j)
			}
			if err := sa.SeriesRefs(fresh[:], frefs[:], nil); err != nil {
				return err
			}
			for j, ref := range frefs {
				if _, err := app.Append(ref, model.Labels{}, k*crashStep, crashValue(j, k)); err != nil {
					return err
				}
			}
		}
		// One series of native histograms (testHist: layout changes and
		// counter resets, so chunks are cut for those too).
		var err error
		if histRef, err = app.AppendHistogram(histRef, lbls("crash_hist"), k*crashStep, testHist(0, int(k)), nil); err != nil {
			return err
		}
		for i := range crashSeries {
			ref, err := app.Append(refs[i], lbls("crash", "i", strconv.Itoa(i)), k*crashStep, crashValue(i, k))
			if err != nil {
				return err
			}
			refs[i] = ref
		}
		if mode == "past" {
			for i := range crashPastSeries {
				if _, err := app.Append(0, lbls("past", "i", strconv.Itoa(i)), -k*crashStep, crashValue(i, k)); err != nil {
					return err
				}
			}
		}
		if err := app.Commit(); err != nil {
			return err
		}
		fmt.Fprintf(out, "ack %d\n", k)
		out.Flush()
	}
	return nil
}

func runCrash(t *testing.T, mode string) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := int64(-1)
	// Each round writes with another WAL compression, so the log each
	// restart replays mixes them.
	comps := []wal.Compression{wal.CompressionSnappy, wal.CompressionZstd, wal.CompressionNone}
	for round := range 3 {
		comp := comps[round]
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvMode+"="+mode, crashEnvComp+"="+comp.String())
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 100 + rng.IntN(400)
		if mode == "past" {
			// Every compaction pass writes past blocks and merges them
			// into the blocks they overlap: fewer acks cover several
			// cuts, flushes and merges, in less time.
			killAt = 60 + rng.IntN(240)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "ack" {
				k, _ := strconv.ParseInt(f[1], 10, 64)
				acked = max(acked, k)
				if n++; n == killAt {
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		cmd.Wait()
		if n < killAt {
			t.Fatalf("round %d: child ended after %d acks: %s", round, n, stderr.String())
		}
		db := openDB(t, dir, crashOpts(mode, comps[(round+1)%len(comps)])) // reopened with the next setting
		res := collect(t, db, math.MinInt64, math.MaxInt64)
		for i := range crashSeries {
			ss := res[lbls("crash", "i", strconv.Itoa(i)).String()]
			if int64(len(ss)) < acked+1 {
				t.Fatalf("round %d (%s): series %d has %d samples, %d acknowledged; recovery %+v", round, mode, i, len(ss), acked+1, db.Recovery())
			}
			for j, s := range ss {
				if s.T != int64(j)*crashStep || s.V != crashValue(i, int64(j)) {
					t.Fatalf("round %d: series %d sample %d = %v", round, i, j, s)
				}
			}
		}
		hs := collectHist(t, db, math.MinInt64, math.MaxInt64)[lbls("crash_hist").String()]
		if int64(len(hs)) < acked+1 {
			t.Fatalf("round %d (%s): histogram series has %d samples, %d acknowledged; recovery %+v", round, mode, len(hs), acked+1, db.Recovery())
		}
		for j, s := range hs {
			if want := (hsample{t: int64(j) * crashStep, h: testHist(0, j)}); s.t != want.t || !sameSample(&s, &want) {
				t.Fatalf("round %d: histogram sample %d = %+v %v", round, j, s, s.h)
			}
		}
		if mode == "refs" {
			for k := int64(0); k <= acked; k++ {
				for j := range crashFresh {
					ss := res[crashFreshLabels(k, j).String()]
					if len(ss) != 1 || ss[0].T != k*crashStep || ss[0].V != crashValue(j, k) {
						t.Fatalf("round %d: fresh series k=%d j=%d: %v, want one sample at %d; recovery %+v", round, k, j, ss, k*crashStep, db.Recovery())
					}
				}
			}
		}
		if mode == "past" {
			// Checked as recovered, then compacted: a crash between
			// writing a past block and merging it leaves blocks that
			// overlap, which the next compaction merges.
			past := db.Head().Stats().PastChunks
			for pass := range 2 {
				if pass == 1 {
					if err := db.Compact(); err != nil {
						t.Fatal(err)
					}
					checkClean(t, db, "compaction after the crash")
					res = collect(t, db, math.MinInt64, math.MaxInt64)
				}
				for i := range crashPastSeries {
					got := map[int64]float64{}
					for _, s := range res[lbls("past", "i", strconv.Itoa(i)).String()] {
						got[s.T] = s.V
					}
					for k := int64(0); k <= acked; k++ {
						if v, ok := got[-k*crashStep]; !ok || v != crashValue(i, k) {
							t.Fatalf("round %d pass %d: past series %d t=%d: %v, %v; want %v acknowledged; recovery %+v", round, pass, i, -k*crashStep, v, ok, crashValue(i, k), db.Recovery())
						}
					}
				}
			}
			t.Logf("round %d: %d past chunks in the head after the replay", round, past)
		}
		t.Logf("round %d (wal %v): killed after ack %d; %d blocks; recovery: %d WAL records, %d head chunks re-mapped", round, comp, acked, len(db.Blocks()), db.Recovery().WALRecords, db.Recovery().HeadChunks)
		db.Close()
	}
}

func TestCrashDuringIngestion(t *testing.T) { runCrash(t, "ingest") }

// TestCrashWithSeriesRefs kills a writer that creates its series with
// SeriesRefs: every acknowledged sample of a series created that way is
// there after the replay, under the same labels.
func TestCrashWithSeriesRefs(t *testing.T) { runCrash(t, "refs") }

func TestCrashDuringBlockWriting(t *testing.T) { runCrash(t, "compact") }

// TestCrashWithChunkWriteQueue kills a writer whose full head chunks go
// through the chunk write queue while it compacts in a loop: the chunks
// still waiting are replayed from the WAL, and no series' file chunks have
// a gap.
func TestCrashWithChunkWriteQueue(t *testing.T) { runCrash(t, "queue") }

// TestCrashWithPastSamples kills a writer whose every commit also holds
// samples older than the head's lower bound, while it compacts in a loop
// (past samples written to blocks, vertical compaction, checkpoints).
func TestCrashWithPastSamples(t *testing.T) { runCrash(t, "past") }
