package wal

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// The crash tests run the test binary itself as the writer: TestMain sees
// the environment variable and becomes the child instead of running tests.
const (
	childEnvDir  = "WAL_TEST_CHILD_DIR"
	childEnvSync = "WAL_TEST_CHILD_SYNC"

	childAppenders = 4
	childSeries    = 100 // per appender: refs g*1000 + 0..99
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnvDir); dir != "" {
		if err := crashChild(dir, os.Getenv(childEnvSync)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childValue is the value of series ref at batch b: the oracle the parent
// checks every recovered sample against.
func childValue(ref uint64, b int) float64 { return float64(ref)*1e6 + float64(b) + 0.25 }

// crashChild logs, from childAppenders goroutines, a series record and then
// batch after batch of samples, printing "ack g b" after each Log returns.
// It never stops on its own before the parent kills it (a cap keeps an
// orphan from running forever).
func crashChild(dir, policyName string) error {
	policy, err := ParseSyncPolicy(policyName)
	if err != nil {
		return err
	}
	w, err := Open(dir, Options{Sync: policy, SegmentSize: 64 << 10})
	if err != nil {
		return err
	}
	var outMu stdoutMu
	var wg sync.WaitGroup
	errs := make(chan error, childAppenders)
	for g := range childAppenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			series := make([]RefSeries, childSeries)
			for i := range series {
				series[i] = RefSeries{Ref: uint64(g*1000 + i), Labels: model.MustFromStrings(model.MetricName, "m", "g", strconv.Itoa(g), "i", strconv.Itoa(i))}
			}
			if err := w.Log(AppendSeries(nil, series)); err != nil {
				errs <- err
				return
			}
			samples := make([]RefSample, childSeries)
			var rec []byte
			for b := 0; b < 200_000; b++ {
				for i := range samples {
					ref := uint64(g*1000 + i)
					samples[i] = RefSample{Ref: ref, T: int64(b) * 1000, V: childValue(ref, b)}
				}
				rec = AppendSamples(rec[:0], samples)
				if err := w.Log(rec); err != nil {
					errs <- err
					return
				}
				outMu.printf("ack %d %d\n", g, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

type stdoutMu struct{ mu sync.Mutex }

// printf writes one whole line with one write, so lines from several
// goroutines never interleave and a kill leaves at most the last one cut.
func (m *stdoutMu) printf(format string, a ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	os.Stdout.WriteString(fmt.Sprintf(format, a...))
}

// runCrashChild starts the child on dir, reads acknowledgements until at
// least killAfter batches are acknowledged, every appender's first among
// them, SIGKILLs it, reads whatever
// complete lines it printed before dying, and returns the highest
// acknowledged batch per appender (-1: none).
func runCrashChild(t *testing.T, dir string, policy SyncPolicy, killAfter int) []int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnvDir+"="+dir, childEnvSync+"="+policy.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := make([]int, childAppenders)
	for i := range acked {
		acked[i] = -1
	}
	br := bufio.NewReader(out)
	n, killed := 0, false
	for {
		line, err := br.ReadString('\n')
		if err != nil { // EOF after the kill; a cut last line is ignored
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		var g, b int
		if _, err := fmt.Sscanf(line, "ack %d %d\n", &g, &b); err != nil || g < 0 || g >= childAppenders {
			t.Fatalf("child printed %q", line)
		}
		if b != acked[g]+1 {
			t.Fatalf("appender %d acknowledged batch %d after %d", g, b, acked[g])
		}
		acked[g] = b
		// Kill once enough is acknowledged and every appender has had some
		// acknowledged: on a loaded machine one goroutine can get through
		// thousands of batches before the others are first scheduled, and a
		// kill then would test one appender, not concurrent ones.
		if n++; n >= killAfter && slices.Min(acked) >= 0 && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before the kill after %d acks: %v", n, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	return acked
}

// recovered is the state a replay rebuilds, checked against the oracle as
// it is built.
type recovered struct {
	series  map[uint64]model.Labels
	batches []int // per appender: batches recovered, all contiguous from 0
	points  int
}

// replayChildLog replays dir and checks every record against the child's
// oracle: series known before their samples, each batch whole, batches of
// an appender in order without gaps, every value exact.
func replayChildLog(t *testing.T, dir string) recovered {
	t.Helper()
	st := recovered{series: map[uint64]model.Labels{}, batches: make([]int, childAppenders)}
	r, err := NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var samples []RefSample
	var series []RefSeries
	for r.Next() {
		rec := r.Record()
		switch Type(rec) {
		case RecordSeries:
			if series, err = DecodeSeries(rec, series); err != nil {
				t.Fatal(err)
			}
			for _, s := range series {
				g, i := int(s.Ref/1000), int(s.Ref%1000)
				want := fmt.Sprintf(`m{g="%d",i="%d"}`, g, i)
				if s.Labels.String() != want {
					t.Fatalf("series %d is %s, want %s", s.Ref, s.Labels, want)
				}
				st.series[s.Ref] = s.Labels
			}
		case RecordSamples:
			if samples, err = DecodeSamples(rec, samples); err != nil {
				t.Fatal(err)
			}
			if len(samples) != childSeries {
				t.Fatalf("batch of %d samples, want %d", len(samples), childSeries)
			}
			g := int(samples[0].Ref / 1000)
			b := int(samples[0].T / 1000)
			if b != st.batches[g] {
				t.Fatalf("appender %d: batch %d follows batch %d", g, b, st.batches[g]-1)
			}
			for i, s := range samples {
				ref := uint64(g*1000 + i)
				if s.Ref != ref || s.T != int64(b)*1000 || math.Float64bits(s.V) != math.Float64bits(childValue(ref, b)) {
					t.Fatalf("appender %d batch %d sample %d is %+v", g, b, i, s)
				}
				if _, ok := st.series[ref]; !ok {
					t.Fatalf("sample of series %d before its series record", ref)
				}
			}
			st.batches[g]++
			st.points += len(samples)
		default:
			t.Fatalf("unexpected record type %v", Type(rec))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("replay after kill -9: %v", err)
	}
	return st
}

// Milestone 2: recovery rebuilds state after kill -9. A real child process
// logs concurrently (64 KiB segments, so it rotates while being killed) and
// is SIGKILLed mid-write; every batch it acknowledged must come back, whole
// and exact, and the log must accept appends afterwards. For a process
// crash every policy must hold this: the page cache survives the process.
func TestMilestone2_RecoveryAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	for _, p := range []SyncPolicy{SyncBatch, SyncAlways, SyncInterval, SyncNone} {
		t.Run("sync="+p.String(), func(t *testing.T) {
			dir := t.TempDir()
			acked := runCrashChild(t, dir, p, 1500)
			st := replayChildLog(t, dir)
			if first, last, _, _ := Segments(dir); last-first < 3 {
				t.Errorf("segments %d..%d: the child should have rotated several times", first, last)
			}
			total := 0
			for g := range childAppenders {
				if st.batches[g] < acked[g]+1 {
					t.Errorf("appender %d: acknowledged batches 0..%d, recovered only %d", g, acked[g], st.batches[g])
				}
				total += acked[g] + 1
			}
			if len(st.series) != childAppenders*childSeries {
				t.Errorf("%d series recovered, want %d", len(st.series), childAppenders*childSeries)
			}
			t.Logf("acknowledged %d batches (%d points), recovered %d points", total, total*childSeries, st.points)

			// Restart: Open cuts a torn tail if the kill left one, then the
			// log takes new records after everything recovered.
			w, err := Open(dir, Options{Sync: SyncBatch})
			if err != nil {
				t.Fatal(err)
			}
			var s []RefSample
			for i := range childSeries {
				ref := uint64(i)
				s = append(s, RefSample{Ref: ref, T: int64(st.batches[0]) * 1000, V: childValue(ref, st.batches[0])})
			}
			if err := w.Log(AppendSamples(nil, s)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if st2 := replayChildLog(t, dir); st2.batches[0] != st.batches[0]+1 || st2.points != st.points+childSeries {
				t.Fatalf("after restart: %v batches, %d points", st2.batches, st2.points)
			}
		})
	}
}
