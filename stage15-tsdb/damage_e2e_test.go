package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	"github.com/tsdb-course/stage15-tsdb/client"
)

// series is the data of the damage and kill tests: n series d{s="k"}, one
// request per minute of [base, base+count min) carrying that minute's
// sample of every series, whose value is the minute's index.
type series struct {
	name  string
	n     int
	base  int64 // ms, a whole minute
	count int
}

func (s series) request(t *testing.T, i int) []byte {
	ss := make([]prompbtest.Series, s.n)
	for k := range ss {
		ss[k] = prompbtest.Series{Labels: [][2]string{{"__name__", s.name}, {"s", fmt.Sprint(k)}},
			Samples: [][2]float64{{float64(s.base + int64(i)*60_000), float64(i)}}}
	}
	return prompbtest.Marshal(t, ss, nil)
}

// write sends the requests [from, to) and returns how many were
// acknowledged; it stops at the first error once stop says the server is
// going (a kill), and fails the test on any other.
func (s series) write(t *testing.T, addr string, from, to int, stop func() bool) int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	for i := from; i < to; i++ {
		code, body, err := remoteWrite(c, addr, s.request(t, i))
		if err != nil && stop != nil && stop() {
			return i
		}
		if err != nil || code != http.StatusNoContent {
			t.Fatalf("request %d: %d %s %v", i, code, body, err)
		}
	}
	return to
}

// check queries every series over the whole range and returns the minutes
// missing from it (by index), failing the test if any sample served is
// not the one written, or if a minute may not be missing (may).
func (s series) check(t *testing.T, p *proc, may func(i int) bool) (missing map[int]bool, warnings []string) {
	t.Helper()
	end := s.base + int64(s.count)*60_000
	var res struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
		Warnings []string
	}
	u := p.url("/api/v1/query", "query", fmt.Sprintf("%s[%dm]", s.name, s.count+1), "time", fmt.Sprint(end/1000))
	if code := getJSON(t, u, &res); code != 200 {
		t.Fatalf("query: %d %+v", code, res)
	}
	missing = map[int]bool{}
	seen := map[string]map[int]bool{}
	for _, r := range res.Data.Result {
		got := map[int]bool{}
		for _, v := range r.Values {
			ts, val := int64(v[0].(float64)*1000), v[1].(string)
			i := int((ts - s.base) / 60_000)
			if ts != s.base+int64(i)*60_000 || val != fmt.Sprint(i) || i < 0 || i >= s.count {
				t.Fatalf("series %v: sample [%v %q] was never written", r.Metric, v[0], val)
			}
			got[i] = true
		}
		seen[r.Metric["s"]] = got
	}
	for k := range s.n {
		for i := range s.count {
			if !seen[fmt.Sprint(k)][i] {
				if !may(i) {
					t.Fatalf("series s=%d: minute %d is lost", k, i)
				}
				missing[i] = true
			}
		}
	}
	return missing, res.Warnings
}

// blocksStatus fetches /api/v1/status/blocks.
func blocksStatus(t *testing.T, p *proc) client.Blocks {
	t.Helper()
	var env struct {
		Status string
		Data   client.Blocks
	}
	if code := getJSON(t, p.url("/api/v1/status/blocks"), &env); code != 200 {
		t.Fatalf("status/blocks: %d", code)
	}
	return env.Data
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// refused runs `start` on dir and returns its stderr, failing unless the
// server exits non-zero by itself (it refuses the directory).
func refused(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(binary, "start", "--listen", "127.0.0.1:0", "--data-dir", dir)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("start on a damaged directory: %v, want a refusal\n%s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("start on a damaged directory did not exit\n%s", errb.String())
	}
	return errb.String()
}

func edit(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDamageE2E is the damage table end to end: a real server process,
// stopped cleanly, one file of its data directory damaged, restarted. Each
// case says whether the start refuses (naming the damage and how to go
// on, with the directory unchanged; then `repair` lists it and
// --storage.repair starts) and what is served after: everything intact,
// with warnings over what is not, and /api/v1/status/blocks naming it.
func TestDamageE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	// Aligned to the 2 h block ranges: the first 6.5 h make two blocks and
	// leave a head of 2.5 h, which the last half hour does not make due.
	now := time.Now().UnixMilli() / 7_200_000 * 7_200_000
	data := series{name: "d", n: 10, base: now - 8*3_600_000, count: 7 * 60}
	base := t.TempDir()
	p := startServer(t, base, "--compact-interval", "100ms", "--retention", "0s")
	data.write(t, p.addr, 0, data.count-30, nil)
	deadline := time.Now().Add(30 * time.Second)
	for blocks := blocksStatus(t, p); len(blocks.Blocks) < 2 || blocks.Head.MinTime != data.base+4*3_600_000; blocks = blocksStatus(t, p) {
		if time.Now().After(deadline) {
			t.Fatalf("no blocks cut: %+v", blocks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The last half hour goes to the WAL segment started after the cut.
	data.write(t, p.addr, data.count-30, data.count, nil)
	p.stop(t)
	// The oldest block as it is on disk (compaction may have merged
	// blocks since the status was read).
	var first block.Meta
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if m, err := block.ReadMeta(filepath.Join(base, e.Name())); err == nil && (first.MaxTime == 0 || m.MinTime < first.MinTime) {
			first = m
		}
	}
	firstID := first.ULID.String()
	inFirst := func(i int) bool {
		ts := data.base + int64(i)*60_000
		return ts >= first.MinTime && ts < first.MaxTime
	}
	newestSegment := func(dir string) string {
		ents, _ := os.ReadDir(filepath.Join(dir, "wal"))
		last := ""
		for _, e := range ents {
			if len(e.Name()) == 8 {
				last = e.Name()
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, "wal", last)); err != nil || fi.Size() == 0 {
			t.Fatalf("newest segment %s: %v %v", last, err, ents)
		}
		return filepath.Join(dir, "wal", last)
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string) (may func(int) bool)
		refuse []string // the refusal says these; nil: the server starts
		after  func(t *testing.T, p *proc, dir string, may func(int) bool)
	}{
		{name: "wal: bit flip in the newest segment",
			damage: func(t *testing.T, dir string) func(int) bool {
				edit(t, newestSegment(dir), func(b []byte) []byte { b[len(b)/2] ^= 0x20; return b })
				return func(int) bool { return true } // bounded below: one request
			},
			refuse: []string{"corrupt", "checksum mismatch", "stage15-tsdb repair --data-dir", "--storage.repair"},
			after: func(t *testing.T, p *proc, dir string, may func(int) bool) {
				if m, _ := data.check(t, p, may); len(m) > 1 {
					t.Fatalf("%d minutes lost to one damaged record", len(m))
				}
				st := blocksStatus(t, p)
				if r := st.WAL.Repair; r == nil || r.LostRecords != 1 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "checksum mismatch") {
					t.Fatalf("status wal.repair = %+v", st.WAL.Repair)
				}
				if !strings.Contains(p.logs(), "storage repair: wal") {
					t.Fatalf("the repair is not logged:\n%s", p.logs())
				}
			}},
		{name: "wal: newest segment cut in half",
			damage: func(t *testing.T, dir string) func(int) bool {
				edit(t, newestSegment(dir), func(b []byte) []byte { return b[:len(b)/2] })
				return func(int) bool { return true }
			},
			refuse: []string{"cut short", "at the last clean shutdown"},
			after: func(t *testing.T, p *proc, dir string, may func(int) bool) {
				data.check(t, p, may)
			}},
		{name: "block: meta.json claims a later maxTime",
			damage: func(t *testing.T, dir string) func(int) bool {
				edit(t, filepath.Join(dir, firstID, "meta.json"), func(b []byte) []byte {
					return bytes.Replace(b, []byte(fmt.Sprintf(`"maxTime": %d`, first.MaxTime)), []byte(fmt.Sprintf(`"maxTime": %d`, now)), 1)
				})
				return inFirst
			},
			refuse: []string{firstID, "meta.json disagrees with the block"},
			after: func(t *testing.T, p *proc, dir string, may func(int) bool) {
				data.check(t, p, may)
				if _, err := os.Stat(filepath.Join(dir, "corrupted", firstID)); err != nil {
					t.Fatalf("the block was not moved aside: %v", err)
				}
			}},
		{name: "block: index damaged",
			damage: func(t *testing.T, dir string) func(int) bool {
				edit(t, filepath.Join(dir, firstID, "index"), func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
				return inFirst
			},
			after: func(t *testing.T, p *proc, dir string, may func(int) bool) {
				_, warns := data.check(t, p, may)
				if len(warns) != 1 || !strings.Contains(warns[0], firstID) {
					t.Fatalf("warnings %q", warns)
				}
				st := blocksStatus(t, p)
				if len(st.Damaged) != 1 || st.Damaged[0].ULID != firstID || !st.Damaged[0].Moved || st.Damaged[0].Reason == "" {
					t.Fatalf("status damaged = %+v", st.Damaged)
				}
				if logs := p.logs(); !strings.Contains(logs, "damaged block not served") || !strings.Contains(logs, firstID) {
					t.Fatalf("the block is not named in the log:\n%s", logs)
				}
			}},
		{name: "block: chunk bytes flipped",
			damage: func(t *testing.T, dir string) func(int) bool {
				edit(t, filepath.Join(dir, firstID, "chunks", "000001"), func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b })
				return inFirst
			},
			after: func(t *testing.T, p *proc, dir string, may func(int) bool) {
				// Found on first read: the query answers 200 with what is
				// intact and a warning, the status names the block.
				_, warns := data.check(t, p, may)
				if len(warns) != 1 || !strings.Contains(warns[0], firstID) || !strings.Contains(warns[0], "checksum") {
					t.Fatalf("warnings %q", warns)
				}
				st := blocksStatus(t, p)
				if len(st.Damaged) != 1 || st.Damaged[0].Moved || st.Damaged[0].Chunks == 0 {
					t.Fatalf("status damaged = %+v", st.Damaged)
				}
				// The query's warning is logged once, as soon as it is seen.
				if logs := p.logs(); !strings.Contains(logs, "query answered without damaged data") || !strings.Contains(logs, firstID) {
					t.Fatalf("the damage is not logged:\n%s", logs)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			may := tc.damage(t, dir)
			extra := []string{"--retention", "0s"}
			if tc.refuse != nil {
				msg := refused(t, dir)
				for _, s := range tc.refuse {
					if !strings.Contains(msg, s) {
						t.Errorf("the refusal does not say %q:\n%s", s, msg)
					}
				}
				out, errOut, code := runCLI(t, "repair", "--data-dir", dir)
				if code != 0 || !strings.Contains(out, "Nothing was changed") {
					t.Fatalf("repair (dry run): %d\n%s%s", code, out, errOut)
				}
				extra = append(extra, "--storage.repair")
			}
			p := startServer(t, dir, extra...)
			tc.after(t, p, dir, may)
			p.stop(t)
			// Repaired, the directory starts without the flag.
			p = startServer(t, dir, "--retention", "0s")
			data.check(t, p, may)
		})
	}
}

// TestKill9DuringReplayAndCompaction extends TestKill9: after a stream of
// acknowledged writes, the server is killed with SIGKILL while it replays
// the WAL at start-up (three times, at different moments) and while it
// compacts (three times, each the moment a block or a WAL checkpoint is
// half written); every acknowledged sample must be there at the end.
func TestKill9DuringReplayAndCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	now := time.Now().UnixMilli() / 3_600_000 * 3_600_000
	// A day of minutes for 500 series: 720,000 samples, twelve block ranges.
	data := series{name: "k", n: 500, base: now - 25*3_600_000, count: 24 * 60}
	// No compaction while writing: the head keeps everything, so the
	// restarts have a long WAL to replay and a long head to cut.
	p := startServer(t, dir, "--compact-interval", "1h", "--retention", "0s")
	data.write(t, p.addr, 0, data.count, nil)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	duringReplay := 0
	for _, delay := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond} {
		p := startProc(t, dir, "--compact-interval", "1h", "--retention", "0s")
		time.Sleep(delay) // when in the replay to kill: not a synchronisation
		if !p.ready() {
			duringReplay++
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
	}
	if duringReplay == 0 {
		t.Fatal("the replay was never caught: every kill came after it")
	}

	// Kill while a block is half written, then while a WAL checkpoint
	// is (the head cut into blocks, the WAL about to be cut), then while
	// the fourth block of a run is (after several cuts and checkpoints).
	left := map[string]bool{} // *.tmp a kill left behind: the next start removes them
	var caught []string
	for round, want := range []struct {
		dir string
		nth int
	}{{".", 1}, {"wal", 1}, {".", 4}} {
		p := startProc(t, dir, "--compact-interval", "10ms", "--retention", "0s")
		deadline := time.Now().Add(60 * time.Second)
		seen := map[string]bool{}
		for len(seen) < want.nth {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no compaction seen (%v):\n%s", round, seen, p.logs())
			}
			ents, _ := os.ReadDir(filepath.Join(dir, want.dir))
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".tmp") && !left[e.Name()] {
					seen[e.Name()] = true
				}
			}
			time.Sleep(100 * time.Microsecond) // polling: a block takes milliseconds to write
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		for name := range seen {
			left[name] = true
			caught = append(caught, name)
		}
	}

	p = startServer(t, dir, "--retention", "0s")
	if m, _ := data.check(t, p, func(int) bool { return false }); len(m) != 0 {
		t.Fatalf("%d minutes lost", len(m))
	}
	t.Logf("kills during replay: %d of 3; during compaction, %d blocks and checkpoints seen half written: %v", duringReplay, len(caught), caught)
}
