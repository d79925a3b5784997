package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
)

// The demo starts its own executable as a child writer; under `go test`
// that executable is the test binary, which then acts as the program.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
	}
	return out.String()
}

func mustMatch(t *testing.T, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}

// write, recover, checkpoint, recover: the guide's lines, with counts that
// follow from the workload (20 batches of 1,000 points over 4 hosts).
func TestCLIWriteRecoverCheckpoint(t *testing.T) {
	dir := t.TempDir()
	out := runOK(t, "write", "--data-dir", dir, "--points", "20000", "--appenders", "4", "--segment-size", "12000", "--sync", "always")
	mustMatch(t, out,
		`(?m)^Wrote 20,000 data points to WAL \(4 appenders, 1,000-point batches, sync=always\)$`,
		`(?m)^WAL segments: 00000000 \([0-9.]+MB\), 00000001 .*00000002 `,
		`(?m)^Write throughput: [0-9,]+ points/second \([0-9.]+ bytes/point, 24 appends, 2[4-9] fsyncs\)$`)
	out = runOK(t, "recover", "--data-dir", dir)
	mustMatch(t, out,
		`(?m)^  00000000: [0-9,]+ valid records, 0 corrupt$`,
		`(?m)^Recovered 20,000 data points \(4,000 series\) in `,
		`(?m)^In-memory state rebuilt successfully!`)
	out = runOK(t, "checkpoint", "--data-dir", dir, "--drop-host", "3")
	mustMatch(t, out,
		`(?m)^Wrote checkpoint\.0000000[0-9]: 3,000 series kept \(1,000 dropped\), [0-9,]+ samples kept`,
		`(?m)^Truncated 00000000 `)
	out = runOK(t, "recover", "--data-dir", dir)
	mustMatch(t, out, `(?m)^  checkpoint\.0000000[0-9]: `, `(?m)^In-memory state rebuilt successfully!`)
}

// write --crash-after kills itself with SIGKILL; recover finds at least
// what it acknowledged (its "ack" lines), and a torn tail is cut.
func TestCLICrashAfter(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "write", "--data-dir", dir, "--points", "10000000", "--crash-after", "30000", "--ack")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.Output()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("write --crash-after did not die of SIGKILL: %v", err)
	}
	acked := strings.Count(string(out), "\n") * 1000
	if acked < 30000 {
		t.Fatalf("only %d points acknowledged", acked)
	}
	res, _, err := replay(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.state.points < acked || len(res.state.errs) > 0 {
		t.Fatalf("recovered %d points (%v), %d acknowledged", res.state.points, res.state.errs, acked)
	}
}

// The demo end to end, small: it fails (non-zero) if any acknowledged
// point is missing or the checkpoint keeps the wrong samples.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	out := runOK(t, "--points", "100000", "--crash-after", "20000", "--data-dir", t.TempDir())
	mustMatch(t, out,
		`(?m)^\[Write Phase\]\nWrote 100,000 data points to WAL`,
		`(?m)^Killing process without clean shutdown\.\.\. \(SIGKILL to pid [0-9]+ after [0-9,]+ acknowledged points\)$`,
		`(?m)^\[Recovery Phase\]$`,
		`(?m)^Every acknowledged point was recovered\.$`,
		`(?m)^\[Checkpoint Phase\]$`,
		`(?m)^Replay after the checkpoint: ([0-9,]+) points .*; expected ([0-9,]+)$`)
}

func TestCLIErrors(t *testing.T) {
	corrupt := t.TempDir()
	runOK(t, "write", "--data-dir", corrupt, "--points", "5000", "--appenders", "1", "--segment-size", "20000", "--sync", "none")
	seg := filepath.Join(corrupt, wal.SegmentName(0))
	b, _ := os.ReadFile(seg)
	b[len(b)/2] ^= 0xff
	os.WriteFile(seg, b, 0o644)

	for _, args := range [][]string{
		{"nope"},
		{"write", "--data-dir", t.TempDir(), "--sync", "sometimes"},
		{"write", "--data-dir", t.TempDir(), "--points", "0"},
		{"recover"},
		{"recover", "--data-dir", corrupt},
		{"checkpoint", "--data-dir", filepath.Join(t.TempDir(), "missing")},
		{"recover", "--data-dir", corrupt, "extra"},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		if code == 0 || !strings.HasPrefix(lines[len(lines)-1], "error: ") {
			t.Errorf("%v: exit %d stderr %q", args, code, errb.String())
		}
	}
	// The corruption error names segment and offset; --repair cuts out
	// the damaged record and keeps the rest.
	var out, errb bytes.Buffer
	run([]string{"recover", "--data-dir", corrupt}, &out, &errb)
	mustMatch(t, errb.String(), `^error: wal: segment 0 offset [0-9]+: corrupt: checksum mismatch`)
	out2 := runOK(t, "recover", "--data-dir", corrupt, "--repair")
	mustMatch(t, out2, `(?m)^Repaired:\n  00000000: corrupt at offset [0-9]+ \([0-9]+ bytes, 1 record\(s\)\): checksum mismatch$`,
		`(?m)^  kept [0-9]+ intact records; 1 damaged record\(s\) lost`, `(?m)^[0-9,]+ (batches of a series were in the records the damage cost|points dropped: their series record was in the damage)$`,
		`(?m)^In-memory state rebuilt successfully!`)

	for _, args := range [][]string{{"-h"}, {"write", "-h"}, {"recover", "-h"}, {"checkpoint", "-h"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || !strings.Contains(out.String()+errb.String(), "usage:") {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// write logs dense samples records by default (as stage06's head and the
// demo do), type 2 with --record samples; either way recover checks every
// value against the generator (one-decimal values: e = 1). --record with
// another value is a usage error.
func TestCLIWriteDenseRecords(t *testing.T) {
	for _, c := range []struct {
		args []string
		want wal.RecordType
	}{
		{nil, wal.RecordDenseSamples},
		{[]string{"--record", "dense"}, wal.RecordDenseSamples},
		{[]string{"--record", "samples"}, wal.RecordSamples},
	} {
		dir := t.TempDir()
		args := append([]string{"write", "--data-dir", dir, "--points", "20000", "--appenders", "4", "--sync", "none"}, c.args...)
		out := runOK(t, args...)
		mustMatch(t, out, `(?m)^Wrote 20,000 data points to WAL`)
		r, err := wal.NewReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		types := map[wal.RecordType]int{}
		for r.Next() {
			types[wal.Type(r.Record())]++
		}
		r.Close()
		if types[c.want] != 20 || types[wal.RecordSamples]+types[wal.RecordDenseSamples] != 20 {
			t.Fatalf("write %v: record types %v, want 20 samples records of type %d", c.args, types, c.want)
		}
		out = runOK(t, "recover", "--data-dir", dir)
		mustMatch(t, out, `(?m)^Recovered 20,000 data points \(4,000 series\) in `, `(?m)^In-memory state rebuilt successfully!`)
	}
	var o, e bytes.Buffer
	if code := run([]string{"write", "--data-dir", t.TempDir(), "--record", "packed"}, &o, &e); code == 0 || !strings.Contains(e.String(), "--record") {
		t.Fatalf("--record packed: exit %d, stderr %q", code, e.String())
	}
}
