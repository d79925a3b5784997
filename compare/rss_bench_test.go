package compare

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// BenchmarkActiveSeriesRSS: the resident memory of a server holding 1M
// active series of 3 samples each, for the capstone (stage15-tsdb, built
// from this workspace), a single-node VictoriaMetrics (.ci/build-tools
// victoria-metrics) and Prometheus (the `prometheus` on PATH, Debian's
// package), one after the other in the same run, each a fresh process on
// 127.0.0.1 with a fresh data directory and its default settings.
//
// The load is `tsdb bench-write`'s series shape (node_exporter-like: 10
// metric names × 10 CPUs × 10,000 instances, 5 labels each), sent by
// remote write 1.0 in three rounds, one sample of every series per round
// (15 s apart, ending a minute ago), 2,000 series a request, 2 senders; a
// round starts when the previous one is acknowledged. Then the process is
// left alone for TSDB_RSS_SETTLE seconds (default 30), and its VmRSS is
// read from /proc (with VmHWM, the peak). No server is asked to collect
// garbage: each is measured as an operator would find it.
//
// TSDB_RSS_SERIES makes the load smaller while developing; TSDB_RSS_OURS
// names a stage15-tsdb binary to run instead of building one (to measure
// two versions); TSDB_RSS_OURS_ARGS adds flags to its command line;
// TSDB_RSS_PEERS=none measures the capstone alone. A peer that is not
// installed is skipped with a line in the log.
func BenchmarkActiveSeriesRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 3M samples into three servers: not with -short")
	}
	series := envInt("TSDB_RSS_SERIES", 1_000_000)
	settle := time.Duration(envInt("TSDB_RSS_SETTLE", 30)) * time.Second
	root := b.TempDir()

	ourBin := os.Getenv("TSDB_RSS_OURS")
	if ourBin == "" {
		ourBin = filepath.Join(root, "stage15-tsdb")
		if out, err := exec.Command("go", "build", "-o", ourBin, "github.com/tsdb-course/stage15-tsdb").CombinedOutput(); err != nil {
			b.Fatalf("cannot build stage15-tsdb: %v\n%s", err, out)
		}
	}
	end := time.Now().Truncate(15 * time.Second).Add(-time.Minute)
	rounds := rssLoad(series, end)

	type server struct {
		name  string
		start func(dir string) (*vmBenchServer, error)
	}
	servers := []server{{"ours", func(dir string) (*vmBenchServer, error) {
		return startOursArgs(ourBin, dir, strings.Fields(os.Getenv("TSDB_RSS_OURS_ARGS"))...)
	}}}
	if os.Getenv("TSDB_RSS_PEERS") != "none" {
		if out, err := exec.Command("bash", filepath.Join("..", ".ci", "build-tools"), "--cached", "victoria-metrics").Output(); err == nil {
			vmBin := strings.TrimSpace(string(out))
			servers = append(servers, server{"vm", func(dir string) (*vmBenchServer, error) { return startVM(vmBin, dir) }})
		} else {
			b.Log("no VictoriaMetrics in the tools cache (.ci/build-tools victoria-metrics builds it): skipped")
		}
		if promBin, err := exec.LookPath("prometheus"); err == nil {
			servers = append(servers, server{"prometheus", func(dir string) (*vmBenchServer, error) { return startProm(promBin, dir) }})
		} else {
			b.Log("no prometheus on PATH (apt-get install prometheus): skipped")
		}
	}

	for b.Loop() {
		for _, sv := range servers {
			rss, hwm, err := measureRSS(filepath.Join(root, sv.name), sv.start, rounds, settle)
			if err != nil {
				b.Fatalf("%s: %v", sv.name, err)
			}
			b.ReportMetric(float64(rss)/(1<<20), sv.name+"-MiB")
			b.ReportMetric(float64(hwm)/(1<<20), sv.name+"-peak-MiB")
			b.ReportMetric(float64(rss)/float64(series), sv.name+"-B/series")
		}
	}
}

// rssLoad builds the three rounds of requests: round r holds sample r of
// every series.
func rssLoad(series int, end time.Time) [][][]byte {
	names := []string{
		"node_cpu_seconds_total", "node_cpu_guest_seconds_total", "node_interrupts_total", "node_context_switches_total",
		"node_network_receive_bytes_total", "node_network_transmit_bytes_total", "node_disk_read_bytes_total",
		"node_disk_written_bytes_total", "node_softirqs_total", "node_schedstat_running_seconds_total",
	}
	lsets := make([]model.Labels, series)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(
			"__name__", names[i%10],
			"cpu", strconv.Itoa(i/10%10),
			"instance", fmt.Sprintf("host-%04d:9100", i/100),
			"job", "node",
			"datacenter", fmt.Sprintf("dc-%d", i/100%4),
		)
	}
	const perRequest = 2000
	rounds := make([][][]byte, 3)
	samples := make([]model.Sample, perRequest)
	batch := make([]remote.Series, 0, perRequest)
	var raw []byte
	for r := range rounds {
		t := end.Add(time.Duration(r-2) * 15 * time.Second).UnixMilli()
		for lo := 0; lo < series; lo += perRequest {
			batch = batch[:0]
			for i := lo; i < min(lo+perRequest, series); i++ {
				samples[i-lo] = model.Sample{T: t, V: float64(i%1000 + 100*r)}
				batch = append(batch, remote.Series{Labels: lsets[i], Samples: samples[i-lo : i-lo+1]})
			}
			raw = remote.AppendWriteRequest(raw[:0], batch)
			rounds[r] = append(rounds[r], remote.Compress(nil, raw))
		}
	}
	return rounds
}

// measureRSS starts a server in dir, writes the rounds, waits settle and
// returns its VmRSS and VmHWM; the server is stopped, by its PID, on
// every path.
func measureRSS(dir string, start func(string) (*vmBenchServer, error), rounds [][][]byte, settle time.Duration) (rss, hwm int64, err error) {
	s, err := start(dir)
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return 0, 0, err
	}
	const senders = 2
	for _, reqs := range rounds {
		errs := make(chan error, senders)
		for k := range senders {
			go func() {
				for r := k; r < len(reqs); r += senders {
					if err := s.post("/api/v1/write", "application/x-protobuf", reqs[r], rwHeader); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range senders {
			err = errors.Join(err, <-errs)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	select {
	case err := <-s.done:
		s.done <- err
		return 0, 0, fmt.Errorf("exited: %v\n%s", err, s.logs)
	case <-time.After(settle):
	}
	rss, hwm = procStatus(s.cmd.Process.Pid)
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc (Linux only)")
	}
	return rss, hwm, nil
}

// procStatus reads VmRSS and VmHWM of pid, in bytes.
func procStatus(pid int) (rss, hwm int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, val, _ := strings.Cut(line, ":")
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// startProm starts Prometheus with no scrape targets, as a remote-write
// receiver.
func startProm(bin, dir string) (*vmBenchServer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &vmBenchServer{name: "prometheus", base: "http://" + addr, logs: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.enable-remote-write-receiver")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	return s, s.waitReady("/-/ready")
}
