package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/loadgen"
)

// cmdBenchWrite is the remote-write load generator: pre-built requests,
// several keep-alive senders, and the figures of the run (samples/s,
// latency quantiles, the server's CPU per million samples and its memory).
// Without --addr it starts a server process of its own on 127.0.0.1 with a
// fresh data directory, so the server's CPU and RSS are read from /proc
// apart from the load generator's.
func cmdBenchWrite(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "bench-write", "[--series 10000] [--batch 2000] [--senders 4] [--samples 10000000] [--addr HOST:PORT [--pid PID]]", stderr)
	addr := fs.String("addr", "", "send to this server instead of starting one")
	pid := fs.Int("pid", 0, "with --addr: the server's process id, to report its CPU and RSS (Linux)")
	series := fs.Int("series", 10_000, "distinct series")
	batch := fs.Int("batch", 2_000, "samples per request")
	senders := fs.Int("senders", 4, "concurrent keep-alive senders")
	samples := fs.Int("samples", 10_000_000, "samples to send in all (the requests are built before the run, about 25 bytes a sample)")
	walSync := fs.String("wal.sync", config.DefaultWALSync, "the started server's --wal.sync (interval: fsync in the background; batch: every answered write is on disk)")
	dataDir := fs.String("data-dir", "", "data directory of the server started (default: a temporary one, removed afterwards)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *series < 1 || *batch < 1 || *senders < 1 || *samples < 1 {
		return cli.Usagef("bench-write: --series, --batch, --senders and --samples must be positive")
	}
	t0 := time.Now()
	load := loadgen.Build(loadgen.Spec{Series: *series, Batch: *batch, Senders: *senders, Samples: *samples, Seed: 1})
	fmt.Fprintf(stdout, "load: %s series, %s samples/request, %d senders, %s samples in %s requests (%s compressed, %.1f B/sample), built in %s\n",
		cli.Thousands(*series), cli.Thousands(*batch), *senders, cli.Thousands(load.Samples),
		cli.Thousands(load.Samples / *batch), cli.Bytes(load.Bytes), float64(load.Bytes)/float64(load.Samples), cli.Duration(time.Since(t0)))

	if *addr == "" {
		dir := *dataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "tsdb-bench-write")
			if err != nil {
				return err
			}
			defer os.RemoveAll(d)
			dir = d
		}
		child, err := startChild(dir, *walSync)
		if err != nil {
			return err
		}
		defer child.stop()
		*addr, *pid = child.addr, child.cmd.Process.Pid
		fmt.Fprintf(stdout, "server: pid %d on %s, --wal.sync %s, data in %s\n", *pid, *addr, *walSync, dir)
	}
	c, err := client.New(*addr, client.Options{MaxRetries: -1, Timeout: time.Minute})
	if err != nil {
		return cli.Usagef("--addr: %v", err)
	}
	cpu0, _ := procCPU(*pid)
	bar := cli.NewProgress(stderr, "sending samples", int64(load.Samples), cli.DefaultInterval)
	res := loadgen.Run(context.Background(), c, load, func(n int) { bar.Add(int64(n)) })
	bar.Done()
	cpu1, cpuErr := procCPU(*pid)
	fmt.Fprintf(stdout, "sent %s samples in %s: %s samples/s (%s requests, %d failed)\n",
		cli.Thousands(res.Samples), cli.Duration(res.Elapsed), cli.Rate(res.SamplesPerSecond()), cli.Thousands(res.Requests), res.Failed)
	fmt.Fprintf(stdout, "request latency: p50 %s, p90 %s, p99 %s, max %s\n", cli.Duration(res.Quantile(0.5)),
		cli.Duration(res.Quantile(0.9)), cli.Duration(res.Quantile(0.99)), cli.Duration(res.Quantile(1)))
	if *pid > 0 && cpuErr == nil && res.Samples > 0 {
		cpu := cpu1 - cpu0
		rss, hwm := procMem(*pid)
		fmt.Fprintf(stdout, "server: %s CPU, %.2f CPU-s per million samples (%.2f cores busy); RSS %s, peak %s\n",
			cli.Duration(cpu), cpu.Seconds()/(float64(res.Samples)/1e6), cpu.Seconds()/res.Elapsed.Seconds(), cli.Bytes(rss), cli.Bytes(hwm))
	}
	if res.FirstErr != nil {
		return fmt.Errorf("%d requests failed; the first: %w", res.Failed, res.FirstErr)
	}
	return nil
}

// child is a server process started by bench-write.
type child struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

var listenLine = regexp.MustCompile(`listening=http://(127\.0\.0\.1:\d+)`)

func startChild(dir, walSync string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "start", "--listen", "127.0.0.1:0", "--data-dir", dir, "--retention", "0s", "--compact-interval", "1h", "--wal.sync", walSync)
	pr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := &child{cmd: cmd, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		ch.done <- cmd.Wait()
	}()
	select {
	case ch.addr = <-addrc:
	case err := <-ch.done:
		return nil, fmt.Errorf("bench-write: the server exited: %v", err)
	case <-time.After(30 * time.Second):
		ch.stop()
		return nil, errors.New("bench-write: the server did not start in 30s")
	}
	c, _ := client.New(ch.addr, client.Options{})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ok, _ := c.Ready(context.Background()); ok {
			return ch, nil
		}
		if time.Now().After(deadline) {
			ch.stop()
			return nil, errors.New("bench-write: the server was not ready in 60s")
		}
	}
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// procCPU is the user + system CPU time of process pid, from
// /proc/<pid>/stat (Linux).
func procCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which is in parentheses and may hold
	// spaces): state is field 3, utime 14, stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procMem is the resident set size of process pid, now and at its peak
// (VmRSS and VmHWM of /proc/<pid>/status).
func procMem(pid int) (rss, peak int64) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}
