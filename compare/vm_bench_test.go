package compare

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// BenchmarkHTTPRangeVsVictoriaMetrics starts the capstone (stage15-tsdb,
// built from this workspace) and a single-node VictoriaMetrics (built from
// the module proxy by .ci/build-tools), each a process of its own on
// 127.0.0.1 with its own data directory, remote-writes the same data into
// both, checks that their answers agree, then times the same range queries
// over HTTP on both, alternately, so both figures come from the same
// minutes of a shared machine. VictoriaMetrics runs with
// -search.disableCache: every query is a first execution.
//
// The data: 10,000 http_requests_total counters (4 methods × 5 statuses ×
// 500 instances, stage10's gen.Benchmark) and 1,000 h_bucket histogram
// series (100 instances × 10 buckets), 24 h 5 min of 15 s scrapes:
// 57.6M counter samples. TSDB_VM_BENCH_SERIES and TSDB_VM_BENCH_HOURS make
// it smaller while developing; TSDB_VM_BENCH_DIR keeps the loaded data
// directories there for the next run (reused while under 20 h old);
// TSDB_VM_BENCH_OURS names a stage15-tsdb binary to run instead of
// building one (to compare two versions against the same peer).
// TSDB_VM_BENCH_PROFILE=file writes a CPU profile of the capstone server
// process taken while it answers the timed 24 h queries.
func BenchmarkHTTPRangeVsVictoriaMetrics(b *testing.B) {
	pair := vmBenchPair(b)
	cases := []struct {
		name, q string
		span    time.Duration
		tol     float64 // relative difference allowed (see agree)
	}{
		{"sum_rate_24h", `sum by (method) (rate(http_requests_total[5m]))`, time.Duration(pair.hours) * time.Hour, 0.02},
		{"histogram_quantile_6h", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`, 6 * time.Hour, 0.1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			end := pair.end
			form := url.Values{
				"query": {c.q},
				"start": {strconv.FormatInt(end.Add(-c.span).Unix(), 10)},
				"end":   {strconv.FormatInt(end.Unix(), 10)},
				"step":  {"60"},
			}
			ours, err := pair.ours.query(form)
			if err != nil {
				b.Fatal(err)
			}
			theirs, err := pair.vm.query(form)
			if err != nil {
				b.Fatal(err)
			}
			worst, err := agree(ours, theirs, c.tol)
			if err != nil {
				b.Fatalf("answers differ: %v", err)
			}
			b.Logf("%d series, %d points each, agree within %.2f %%", len(ours), len(ours[firstKey(ours)]), 100*worst)
			var prof chan error
			if f := os.Getenv("TSDB_VM_BENCH_PROFILE"); f != "" && c.name == "sum_rate_24h" && b.N > 1 {
				prof = make(chan error, 1)
				// The profile spans the whole loop: about b.N × (ours+theirs).
				go func() { prof <- pair.ours.profile(f, 1+int(time.Duration(b.N)*pair.lastPair/time.Second)) }()
			}
			var tOurs, tTheirs time.Duration
			cpuOurs0, cpuTheirs0 := pair.ours.cpu(), pair.vm.cpu()
			b.ResetTimer()
			for i := range b.N {
				// Alternate which server goes first, so neither always
				// meets the other's leftovers (GC, page cache).
				first, second := pair.ours, pair.vm
				if i%2 == 1 {
					first, second = second, first
				}
				for _, s := range []*vmBenchServer{first, second} {
					t0 := time.Now()
					if _, err := s.query(form); err != nil {
						b.Fatal(err)
					}
					d := time.Since(t0)
					if s == pair.ours {
						tOurs += d
					} else {
						tTheirs += d
					}
				}
			}
			b.StopTimer()
			cpuOurs, cpuTheirs := pair.ours.cpu()-cpuOurs0, pair.vm.cpu()-cpuTheirs0
			pair.lastPair = (tOurs + tTheirs) / time.Duration(b.N)
			b.ReportMetric(float64(tOurs.Microseconds())/1e3/float64(b.N), "ours-ms/query")
			b.ReportMetric(float64(tTheirs.Microseconds())/1e3/float64(b.N), "vm-ms/query")
			b.ReportMetric(float64(tOurs)/float64(tTheirs), "ours/vm")
			// CPU time of each server process (user + system, from
			// /proc): what a query costs whatever else the machine runs.
			if cpuOurs > 0 && cpuTheirs > 0 {
				b.ReportMetric(float64(cpuOurs.Microseconds())/1e3/float64(b.N), "ours-cpu-ms/query")
				b.ReportMetric(float64(cpuTheirs.Microseconds())/1e3/float64(b.N), "vm-cpu-ms/query")
			}
			if prof != nil {
				if err := <-prof; err != nil {
					b.Logf("profile: %v", err)
				}
			}
		})
	}
}

// vmBenchServer is one server process under the benchmark.
type vmBenchServer struct {
	name string
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type vmPair struct {
	ours, vm *vmBenchServer
	end      time.Time // the queries' end: the last loaded scrape
	hours    int
	lastPair time.Duration
	dirs     []string // removed by stop
}

var vmBench struct {
	once sync.Once
	pair *vmPair
	err  error
	skip string
}

func vmBenchPair(b *testing.B) *vmPair {
	if testing.Short() {
		b.Skip("loads 63.6M samples into two servers: not with -short")
	}
	vmBench.once.Do(func() {
		// setupVMPair records the pair as soon as it exists, so that
		// TestMain stops whatever it started even when it fails.
		_, vmBench.skip, vmBench.err = setupVMPair(b)
	})
	if vmBench.skip != "" {
		if os.Getenv("CI") == "true" {
			b.Fatal(vmBench.skip)
		}
		b.Skip(vmBench.skip)
	}
	if vmBench.err != nil {
		b.Fatal(vmBench.err)
	}
	return vmBench.pair
}

// stopVMBench stops the servers the benchmark started, by their PIDs.
func stopVMBench() {
	p := vmBench.pair
	if p == nil {
		return
	}
	for _, s := range []*vmBenchServer{p.ours, p.vm} {
		if s != nil {
			s.stop()
		}
	}
	for _, d := range p.dirs {
		_ = os.RemoveAll(d)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func setupVMPair(b *testing.B) (p *vmPair, skip string, err error) {
	ctx := context.Background()
	out, err := exec.CommandContext(ctx, "bash", filepath.Join("..", ".ci", "build-tools"), "victoria-metrics").Output()
	if err != nil {
		return nil, fmt.Sprintf("no VictoriaMetrics (.ci/build-tools victoria-metrics: %v)", err), nil
	}
	vmBin := strings.TrimSpace(string(out))

	p = &vmPair{hours: envInt("TSDB_VM_BENCH_HOURS", 24)}
	vmBench.pair = p
	series := envInt("TSDB_VM_BENCH_SERIES", 10_000)
	root := os.Getenv("TSDB_VM_BENCH_DIR")
	if root == "" {
		if root, err = os.MkdirTemp("", "vm-bench-"); err != nil {
			return nil, "", err
		}
		p.dirs = append(p.dirs, root)
	}
	ourBin := os.Getenv("TSDB_VM_BENCH_OURS") // a stage15-tsdb binary built beforehand (A/B runs)
	if ourBin == "" {
		ourBin = filepath.Join(root, "stage15-tsdb")
		if out, err := exec.Command("go", "build", "-o", ourBin, "github.com/tsdb-course/stage15-tsdb").CombinedOutput(); err != nil {
			return nil, fmt.Sprintf("cannot build stage15-tsdb (needs the workspace's go.work): %v\n%s", err, out), nil
		}
	}
	ourDir, vmDir := filepath.Join(root, "ours"), filepath.Join(root, "vm")
	marker := filepath.Join(root, fmt.Sprintf("loaded-%d-series-%dh", series, p.hours))
	var loadedEnd time.Time
	if raw, err := os.ReadFile(marker); err == nil {
		if ms, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && time.Since(time.UnixMilli(ms)) < 20*time.Hour {
			loadedEnd = time.UnixMilli(ms)
		}
	}
	if loadedEnd.IsZero() {
		for _, d := range []string{ourDir, vmDir} {
			if err := os.RemoveAll(d); err != nil {
				return nil, "", err
			}
		}
		_ = os.Remove(marker)
	}

	if p.ours, err = startOurs(ourBin, ourDir); err != nil {
		return nil, "", err
	}
	if p.vm, err = startVM(vmBin, vmDir); err != nil {
		return nil, "", err
	}
	if !loadedEnd.IsZero() {
		p.end = loadedEnd
		b.Logf("reusing the data loaded in %s (end %s)", root, loadedEnd.UTC().Format(time.RFC3339))
		return p, "", p.settle()
	}
	// The last scrape a whole minute, a few minutes back: inside both
	// servers' accepted range and before VictoriaMetrics' latency offset.
	p.end = time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	start := p.end.Add(-time.Duration(p.hours)*time.Hour - 5*time.Minute)
	t0 := time.Now()
	n, err := loadBoth(p, series, start)
	if err != nil {
		return nil, "", err
	}
	b.Logf("loaded %d samples into each server in %s", n, time.Since(t0).Round(time.Second))
	if err := p.settle(); err != nil {
		return nil, "", err
	}
	b.Logf("compacted and merged after %s", time.Since(t0).Round(time.Second))
	if os.Getenv("TSDB_VM_BENCH_DIR") != "" {
		_ = os.WriteFile(marker, []byte(strconv.FormatInt(p.end.UnixMilli(), 10)), 0o644)
	}
	return p, "", nil
}

var listenRE = regexp.MustCompile(`listening=http://(127\.0\.0\.1:\d+)`)

func startOurs(bin, dir string) (*vmBenchServer, error) { return startOursArgs(bin, dir) }

// startOursArgs is startOurs with extra flags on the command line.
func startOursArgs(bin, dir string, extra ...string) (*vmBenchServer, error) {
	s := &vmBenchServer{name: "stage15-tsdb", logs: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, append([]string{"start", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--web.enable-admin-api", "--web.enable-pprof"}, extra...)...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			_, _ = s.logs.Write(append(sc.Bytes(), '\n'))
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { s.done <- s.cmd.Wait(); pw.Close() }()
	select {
	case addr := <-addrc:
		s.base = "http://" + addr
	case err := <-s.done:
		return nil, fmt.Errorf("stage15-tsdb exited: %v\n%s", err, s.logs)
	case <-time.After(2 * time.Minute):
		s.stop()
		return nil, fmt.Errorf("stage15-tsdb did not print its address\n%s", s.logs)
	}
	return s, s.waitReady("/-/ready")
}

func startVM(bin, dir string) (*vmBenchServer, error) {
	// VictoriaMetrics does not say which port :0 gave it; take a free one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &vmBenchServer{name: "victoria-metrics", base: "http://" + addr, logs: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "-httpListenAddr", addr, "-storageDataPath", dir,
		"-search.disableCache", "-retentionPeriod", "100y", "-loggerLevel", "WARN")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	return s, s.waitReady("/health")
}

func (s *vmBenchServer) waitReady(path string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(s.base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("%s exited before it was ready: %v\n%s", s.name, err, s.logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready\n%s", s.name, s.logs)
		}
	}
}

// stop sends SIGTERM to the process this benchmark started and waits;
// SIGKILL after 30 s.
func (s *vmBenchServer) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *vmBenchServer) post(path, contentType string, body []byte, header http.Header) error {
	req, err := http.NewRequest(http.MethodPost, s.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.name, path, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", s.name, path, resp.Status, msg)
	}
	return nil
}

func (s *vmBenchServer) get(path string) ([]byte, error) {
	resp, err := http.Get(s.base + path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.name, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s %s: %s: %s", s.name, path, resp.Status, body)
	}
	return body, nil
}

// matrix is a query_range answer: series (labels as text) → points.
type matrix map[string][][2]float64

// query sends a query_range the way Grafana does (a form POST; Go's
// client asks for gzip as browsers do) and decodes the matrix.
func (s *vmBenchServer) query(form url.Values) (matrix, error) {
	resp, err := http.PostForm(s.base+"/api/v1/query_range", form)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s: %s", s.name, resp.Status, body)
	}
	var ans struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Values [][2]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	m := matrix{}
	for _, r := range ans.Data.Result {
		names := make([]string, 0, len(r.Metric))
		for k := range r.Metric {
			names = append(names, k)
		}
		sort.Strings(names)
		var key strings.Builder
		for _, k := range names {
			fmt.Fprintf(&key, "%s=%q,", k, r.Metric[k])
		}
		pts := make([][2]float64, len(r.Values))
		for i, v := range r.Values {
			t, err1 := strconv.ParseFloat(string(v[0]), 64)
			str, err2 := strconv.Unquote(string(v[1]))
			f, err3 := strconv.ParseFloat(str, 64)
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, fmt.Errorf("%s: point %d of %s: %w", s.name, i, key.String(), err)
			}
			pts[i] = [2]float64{t, f}
		}
		m[key.String()] = pts
	}
	return m, nil
}

func firstKey(m matrix) string {
	for k := range m {
		return k
	}
	return ""
}

// agree: the same series, the same timestamps, values within tol
// (relative); it returns the largest relative difference. VictoriaMetrics'
// rate is not Prometheus's (it does not extrapolate to the window's edges,
// it takes the last sample before the window as the base), so the values
// differ a little; a quantile interpolated inside a wide bucket magnifies
// that difference.
func agree(ours, theirs matrix, tol float64) (worst float64, err error) {
	if len(ours) == 0 {
		return 0, errors.New("empty answer")
	}
	if len(ours) != len(theirs) {
		return 0, fmt.Errorf("%d series here, %d in VictoriaMetrics", len(ours), len(theirs))
	}
	for k, a := range ours {
		v, ok := theirs[k]
		if !ok {
			return 0, fmt.Errorf("series %s missing in VictoriaMetrics", k)
		}
		if len(a) != len(v) {
			return 0, fmt.Errorf("series %s: %d points here, %d in VictoriaMetrics", k, len(a), len(v))
		}
		for i := range a {
			if a[i][0] != v[i][0] {
				return 0, fmt.Errorf("series %s point %d: time %v here, %v in VictoriaMetrics", k, i, a[i][0], v[i][0])
			}
			d := math.Abs(a[i][1]-v[i][1]) / math.Max(math.Abs(a[i][1]), math.Abs(v[i][1]))
			if d > tol {
				return 0, fmt.Errorf("series %s at %v: %v here, %v in VictoriaMetrics", k, a[i][0], a[i][1], v[i][1])
			}
			worst = max(worst, d)
		}
	}
	return worst, nil
}

// cpu is the CPU time the process used so far (user + system), from
// /proc/<pid>/stat; 0 where there is no /proc.
func (s *vmBenchServer) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime and stime fields 14 and 15, in clock ticks (100/s
	// on Linux).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+st) * 10 * time.Millisecond
}

// profile saves a CPU profile of the capstone's process.
func (s *vmBenchServer) profile(file string, seconds int) error {
	body, err := s.get("/debug/pprof/profile?seconds=" + strconv.Itoa(seconds))
	if err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

// loadBoth generates the data (stage10's gen.Benchmark: counters, then a
// histogram, scrape by scrape) and remote-writes it into both servers in
// windows of 30 min of scrapes: each window's requests (100 series × 120
// samples) are sent to both servers by 2 senders each, and the next
// window starts when both acknowledged all of them, so every server sees
// each series in time order and never a sample older than its head.
func loadBoth(p *vmPair, series int, start time.Time) (int, error) {
	w := &windowWriter{p: p, hist: series / 10}
	err := gen.Benchmark(w, series, start, time.Duration(p.hours)*time.Hour+5*time.Minute, 15*time.Second, 1)
	if err == nil {
		err = w.flush()
	}
	return w.samples, err
}

const (
	windowScrapes    = 120
	seriesPerRequest = 100
)

type windowWriter struct {
	p       *vmPair
	hist    int // h_bucket series kept (the first instances')
	labels  []model.Labels
	buf     [][]model.Sample
	pos     int   // index of the next Append within the current scrape
	t       int64 // current scrape
	scrapes int   // scrapes in the window
	hists   int   // h_bucket series seen in the current scrape
	samples int
}

func (w *windowWriter) Append(l model.Labels, t int64, v float64) error {
	if t != w.t {
		if w.scrapes == windowScrapes {
			if err := w.flush(); err != nil {
				return err
			}
		}
		w.t, w.pos, w.hists = t, 0, 0
		w.scrapes++
	}
	if l.Get(model.MetricName) == "h_bucket" {
		if w.hists++; w.hists > w.hist {
			return nil
		}
	}
	if w.pos == len(w.labels) {
		w.labels = append(w.labels, l)
		w.buf = append(w.buf, nil)
	}
	w.buf[w.pos] = append(w.buf[w.pos], model.Sample{T: t, V: v})
	w.pos++
	w.samples++
	return nil
}

var rwHeader = http.Header{
	"Content-Encoding":                  {"snappy"},
	"X-Prometheus-Remote-Write-Version": {"0.1.0"},
}

func (w *windowWriter) flush() error {
	var reqs [][]byte
	var raw []byte
	for i := 0; i < len(w.labels); i += seriesPerRequest {
		batch := make([]remote.Series, 0, seriesPerRequest)
		for j := i; j < min(i+seriesPerRequest, len(w.labels)); j++ {
			batch = append(batch, remote.Series{Labels: w.labels[j], Samples: w.buf[j]})
		}
		raw = remote.AppendWriteRequest(raw[:0], batch)
		reqs = append(reqs, remote.Compress(nil, raw))
	}
	for j := range w.buf {
		w.buf[j] = w.buf[j][:0]
	}
	w.scrapes = 0
	const senders = 2
	errs := make(chan error, 2*senders)
	for _, s := range []*vmBenchServer{w.p.ours, w.p.vm} {
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
	}
	var err error
	for range 2 * senders {
		err = errors.Join(err, <-errs)
	}
	return err
}

// settle brings both servers to rest before timing: the capstone compacts
// what is due (its admin API, as `tsdb compact` does), VictoriaMetrics
// makes every sample searchable and merges its parts; then both must be
// idle (no merge running) for a few seconds.
func (p *vmPair) settle() error {
	if err := p.vm.post("/internal/force_flush", "", nil, nil); err != nil {
		return err
	}
	if err := p.ours.compact(); err != nil {
		return err
	}
	return vmMerged(p.vm)
}

func activeMerges(metrics []byte) float64 {
	var n float64
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "vm_active_merges") {
			if f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				n += f
			}
		}
	}
	return n
}

func (s *vmBenchServer) compact() error {
	resp, err := http.Post(s.base+"/api/v1/admin/tsdb/compact", "", nil)
	if err != nil {
		return err
	}
	var job struct {
		Data struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
			Error string `json:"error"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	for deadline := time.Now().Add(20 * time.Minute); job.Data.State == "running"; {
		if time.Now().After(deadline) {
			return errors.New("compaction still running after 20 min")
		}
		time.Sleep(500 * time.Millisecond)
		body, err := s.get("/api/v1/admin/tsdb/compact/" + strconv.FormatInt(job.Data.ID, 10))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &job); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	}
	if job.Data.State != "done" {
		return fmt.Errorf("compaction %s: %s", job.Data.State, job.Data.Error)
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopVMBench()
	os.Exit(code)
}
