package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/loadgen"
)

// TestMain lets a test run the program itself in a child process (the
// test binary, re-executed with STAGE11_MAIN=1), so that it can be killed.
func TestMain(m *testing.M) {
	if os.Getenv("STAGE11_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKill9KeepsAcknowledged: a bench writing line protocol over HTTP
// into stage06 is killed with SIGKILL while it writes; after reopening the
// data directory, every request it had acknowledged (logged after each
// answer) is there, sample by sample: with the WAL written before each
// answer and fsynced in the background (--wal-sync interval, the default),
// and fsynced before each answer (batch).
func TestKill9KeepsAcknowledged(t *testing.T) {
	for _, sync := range []string{"interval", "batch"} {
		t.Run(sync, func(t *testing.T) { testKill9(t, sync) })
	}
}

func testKill9(t *testing.T, walSync string) {
	dir := t.TempDir()
	data, ackLog := filepath.Join(dir, "data"), filepath.Join(dir, "acks")
	const writers, hosts, rounds = 8, 5, 4
	cmd := exec.Command(os.Args[0], "bench", "--sink", "blocks", "--data-dir", data, "--transport", "http",
		"--writers", strconv.Itoa(writers), "--hosts", strconv.Itoa(hosts), "--rounds", strconv.Itoa(rounds),
		"--duration", "60s", "--ack-log", ackLog, "--wal-sync", walSync)
	cmd.Env = append(os.Environ(), "STAGE11_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	// Kill once a few hundred requests are acknowledged.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(ackLog)
		if strings.Count(string(b), "\n") >= 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bench acknowledged fewer than 300 requests in 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	// The last acknowledged request of each writer (they are sequential).
	fh, err := os.Open(ackLog)
	if err != nil {
		t.Fatal(err)
	}
	acked := make([]int64, writers)
	sc := bufio.NewScanner(fh)
	n := 0
	for sc.Scan() {
		var w int
		var seq int64
		if _, err := fmt.Sscan(sc.Text(), &w, &seq); err != nil {
			continue // a line cut by the kill
		}
		acked[w] = max(acked[w], seq)
		n++
	}
	fh.Close()

	db, err := tsdb.Open(data, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	have := map[string][]int64{}
	ss := q.Select()
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() {
			ts, _ := it.At()
			have[s.Labels().String()] = append(have[s.Labels().String()], ts)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for w := range writers {
		g := loadgen.New(w, writers, hosts, rounds)
		want := acked[w] * rounds // timestamps 0 … want-1 of each of its series
		for _, h := range g.Hosts {
			for f := range loadgen.Fields {
				name := loadgen.SeriesLabels(h, f).String()
				got := have[name]
				for i := range want {
					ts := loadgen.Start + i*loadgen.Step
					if i >= int64(len(got)) || got[i] != ts {
						t.Fatalf("writer %d acknowledged %d requests; %s lacks the sample at %d (has %d samples)", w, acked[w], name, ts, len(got))
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d acknowledged requests, %d acknowledged samples all found after kill -9 (%d series on disk)", n, checked, len(have))
}
