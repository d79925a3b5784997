package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
)

// demoAppenders is how many goroutines append in the write phase; the
// crashed child writes as many more hosts.
const demoAppenders = 8

// demoConfig is what the demo's flags decide.
type demoConfig struct {
	dir                string
	points, crashAfter int
	policy             wal.SyncPolicy
	compression        wal.Compression
}

// cmdDemo runs the guide's "real world outcome" in a temp dir: a write
// phase in this process, a real crash (this program started again as a
// child writer and SIGKILLed mid-write), recovery checked against what the
// child acknowledged, and a checkpoint.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	cfg, cleanup, err := parseDemo(args, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(stdout, "Starting WAL demo in %s (sync=%v, %d MiB segments, %d appenders)...\n", cfg.dir, cfg.policy, wal.DefaultSegmentSize>>20, demoAppenders)
	written, err := demoWrite(cfg, stdout, stderr)
	if err != nil {
		return err
	}
	acked, err := demoCrash(cfg, stdout)
	if err != nil {
		return err
	}
	recovered, err := demoRecover(cfg, written, acked, stdout)
	if err != nil {
		return err
	}
	return demoCheckpoint(cfg, recovered, stdout)
}

// parseDemo reads the flags; cleanup removes the temp dir it made, if any.
func parseDemo(args []string, stderr io.Writer) (cfg demoConfig, cleanup func(), err error) {
	fs := cli.NewFlags(prog, "demo", "[--data-dir DIR] [--points N] [--crash-after M] [--sync POLICY] [--compression snappy|zstd|none]", stderr)
	dataDir := fs.String("data-dir", "", "directory for the WAL (default: a fresh temp dir, removed afterwards)")
	points := fs.Int("points", 2_000_000, "points of the write phase")
	crashAfter := fs.Int("crash-after", 500_000, "points the child must acknowledge before it is killed")
	syncFlag := fs.String("sync", "batch", "durability policy: always, batch, interval or none")
	compFlag := fs.String("compression", "snappy", "how records are stored: snappy, zstd or none")
	if _, err := cli.Parse(fs, args); err != nil {
		return cfg, nil, err
	}
	policy, err := wal.ParseSyncPolicy(*syncFlag)
	if err != nil {
		return cfg, nil, cli.Usagef("%v", err)
	}
	if *points < 1 || *crashAfter < 1 {
		return cfg, nil, cli.Usagef("--points and --crash-after must be positive")
	}
	comp, err := wal.ParseCompression(*compFlag)
	if err != nil {
		return cfg, nil, cli.Usagef("%v", err)
	}
	cfg = demoConfig{dir: *dataDir, points: *points, crashAfter: *crashAfter, policy: policy, compression: comp}
	if cfg.dir != "" {
		return cfg, func() {}, nil
	}
	if cfg.dir, err = os.MkdirTemp("", "stage04-wal-"); err != nil {
		return cfg, nil, err
	}
	return cfg, func() { os.RemoveAll(cfg.dir) }, nil
}

// demoWrite is the write phase: demoAppenders hosts, cfg.points points.
func demoWrite(cfg demoConfig, stdout, stderr io.Writer) (writeResult, error) {
	fmt.Fprintln(stdout, "\n[Write Phase]")
	wc := writeConfig{dir: cfg.dir, points: cfg.points, appenders: demoAppenders, sync: cfg.policy, segmentSize: wal.DefaultSegmentSize, compression: cfg.compression, denseRec: true}
	return writePhase(wc, wal.Options{Sync: cfg.policy, Compression: cfg.compression}, stdout, stderr)
}

// demoCrash runs a child writer on the same WAL and kills it mid-write; it
// returns the last batch the child acknowledged per host.
func demoCrash(cfg demoConfig, stdout io.Writer) ([]int, error) {
	fmt.Fprintln(stdout, "\n[Simulated Crash]")
	fmt.Fprintf(stdout, "Starting a child writer for hosts %d-%d on the same WAL: stage04-wal write --ack --record dense --sync %v ...\n", demoAppenders, 2*demoAppenders-1, cfg.policy)
	acked, err := crashChild(cfg.dir, cfg.policy, cfg.compression, demoAppenders, cfg.crashAfter, stdout)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "The child acknowledged %s points (durable, sync=%v) before it died\n", cli.Thousands(ackedPoints(acked)), cfg.policy)
	return acked, nil
}

func ackedPoints(acked []int) int {
	n := 0
	for _, b := range acked {
		n += (b + 1) * seriesPerHost
	}
	return n
}

// demoRecover replays the WAL and checks it against both writers: every
// point of the write phase, and every point the child acknowledged (more
// may be there: written, not yet acknowledged when it died).
func demoRecover(cfg demoConfig, written writeResult, acked []int, stdout io.Writer) (*headState, error) {
	fmt.Fprintln(stdout, "\n[Recovery Phase]")
	fmt.Fprintf(stdout, "$ stage04-wal recover --data-dir %s\n", cfg.dir)
	rres, err := recoverPhase(cfg.dir, false, stdout)
	if err != nil {
		return nil, err
	}
	got := rres.state.batches(2 * demoAppenders)
	total := (cfg.points + seriesPerHost - 1) / seriesPerHost
	lost, recoveredChild := 0, 0
	for g := range demoAppenders {
		if want := batchesFor(total, demoAppenders, g); got[g] != want {
			lost += (want - got[g]) * seriesPerHost
		}
		recoveredChild += got[demoAppenders+g] * seriesPerHost
		if got[demoAppenders+g] < acked[g]+1 {
			lost += (acked[g] + 1 - got[demoAppenders+g]) * seriesPerHost
		}
	}
	fmt.Fprintf(stdout, "Check: write phase %s of %s points; child %s acknowledged, %s recovered (%s written but not yet acknowledged)\n",
		cli.Thousands(rres.state.points-recoveredChild), cli.Thousands(written.points), cli.Thousands(ackedPoints(acked)), cli.Thousands(recoveredChild), cli.Thousands(recoveredChild-ackedPoints(acked)))
	if lost > 0 {
		fmt.Fprintf(stdout, "LOST %s acknowledged points\n", cli.Thousands(lost))
		return nil, errVerify
	}
	fmt.Fprintln(stdout, "Every acknowledged point was recovered.")
	return rres.state, nil
}

// demoCheckpoint checkpoints the first half of the data, dropping the
// child's last host as a head would drop a series gone from it, and checks
// that a replay then finds exactly the samples the checkpoint must keep.
func demoCheckpoint(cfg demoConfig, before *headState, stdout io.Writer) error {
	fmt.Fprintln(stdout, "\n[Checkpoint Phase]")
	mint := before.minT + (before.maxT-before.minT)/2
	dropHost := 2*demoAppenders - 1
	if _, err := checkpointPhase(cfg.dir, mint, dropHost, cfg.compression, stdout); err != nil {
		return err
	}
	// What the checkpoint must keep, from the state before it: samples at
	// or after mint of every series but the dropped host's.
	want := 0
	for ref, next := range before.next {
		if int(ref/seriesPerHost) == dropHost {
			continue
		}
		for b := 0; b < next; b++ {
			if batchTime(b) >= mint {
				want++
			}
		}
	}
	after, _, err := replay(cfg.dir, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Replay after the checkpoint: %s points (%s series) in %s; expected %s\n",
		cli.Thousands(after.state.points), cli.Thousands(len(after.state.labels)), cli.Duration(after.elapsed), cli.Thousands(want))
	if after.state.points != want || len(after.state.errs) > 0 {
		return errVerify
	}
	return nil
}

const childEnv = "STAGE04_WAL_CHILD"

// crashChild runs this program's write subcommand as a child on dir for
// hosts firstHost.., reads its "ack HOST BATCH" lines, SIGKILLs it once
// crashAfter points are acknowledged, and returns the last acknowledged
// batch per host (-1: none).
func crashChild(dir string, policy wal.SyncPolicy, comp wal.Compression, firstHost, crashAfter int, stdout io.Writer) ([]int, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "write", "--data-dir", dir, "--points", strconv.Itoa(100*crashAfter+1_000_000),
		"--appenders", strconv.Itoa(firstHost), "--first-host", strconv.Itoa(firstHost), "--sync", policy.String(), "--compression", comp.String(), "--record", "dense", "--ack")
	// Marks the process as the demo's child; the test binary uses it to
	// act as this program (see main_test.go). The program itself ignores it.
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	acked := make([]int, firstHost)
	for i := range acked {
		acked[i] = -1
	}
	br := bufio.NewReader(out)
	points, killed := 0, false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break // EOF once the child is dead; a cut last line is ignored
		}
		var g, b int
		if _, err := fmt.Sscanf(line, "ack %d %d\n", &g, &b); err != nil || g < firstHost || g >= 2*firstHost {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("child printed %q", line)
		}
		acked[g-firstHost] = max(acked[g-firstHost], b)
		points += seriesPerHost
		if points >= crashAfter && !killed {
			fmt.Fprintf(stdout, "Killing process without clean shutdown... (SIGKILL to pid %d after %s acknowledged points)\n", cmd.Process.Pid, cli.Thousands(points))
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				return nil, err
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) {
		return nil, fmt.Errorf("child writer ended before it was killed: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		return nil, fmt.Errorf("child writer: %v", err)
	}
	return acked, nil
}
