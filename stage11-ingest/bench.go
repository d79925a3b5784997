package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/tsdb-course/stage04-wal/wal"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/ingest/server"
	"github.com/tsdb-course/stage11-ingest/loadgen"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// benchOpts are the bench's settings.
type benchOpts struct {
	writers      int
	duration     time.Duration
	protocol     string // line, remote, otlp
	transport    string // http, tcp, inproc
	sink         string // discard, memory, blocks
	walSync      wal.SyncPolicy
	dataDir      string
	bp           ingest.Backpressure
	queue        string
	flushers     int
	hosts        int     // per writer
	rounds       int     // timestamps per request
	noCompaction bool    // stage06 without its background head cuts and compactions
	rate         float64 // values/s of all writers together; 0: each sends as soon as answered
	ackLog       string  // file of acknowledged requests ("writer seq" lines), for the crash test
	samples      int     // > 0: this many values in all, in requests built before the timed window
	onStart      func()  // called when the timed window starts (profiles, trace)
	progress     io.Writer
}

// benchResult is what a bench measured.
type benchResult struct {
	points, requests, rejected, failed int64
	refused                            int64 // requests the server answered with a 4xx (not sent again)
	leadWaits                          int64 // requests held back to keep the writers' data clocks together (leadBound)
	elapsed, cpu                       time.Duration
	// the machine's CPU time in the window, as shares of all of it
	// (machine.go): this process, other processes, the hypervisor (steal)
	self, others, steal float64
	machine             bool
	lat                 latency
	sent                latency // with --rate: from the moment each request was sent
	first, rest         latency // from when due: requests due in the first second (every series created), and after
	stats               ingest.Stats
	heapFirst, heapLast uint64 // max live heap found by the collections of the first and the second half; 0: none
	heapInUse           uint64 // max heap in use (live and not yet collected)
	heapEnd             uint64 // live heap after a collection at the end
	gcCount             uint64
	warm                *warmStats // the first second's runtime figures (nil if the run was shorter)
	gcTotal             time.Duration
	firstErr            error
	built, builtBytes   int64         // values and bytes of the requests built beforehand (--samples)
	buildTime           time.Duration // how long building them took
}

// openSink opens the sink a bench or server writes into; closing it
// closes the DB of a blocks sink.
func openSink(name, dir string, opts tsdb.Options) (ingest.Sink, func() error, error) {
	switch name {
	case "discard":
		return ingest.Discard{}, func() error { return nil }, nil
	case "memory":
		return ingest.NewMemorySink(), func() error { return nil }, nil
	case "blocks":
		db, closeDB, err := openBlocks(dir, opts)
		if err != nil {
			return nil, nil, err
		}
		return ingest.NewBlocksSink(db), closeDB, nil
	}
	return nil, nil, cli.Usagef("--sink %q: want discard, memory or blocks", name)
}

// latency is a histogram of request latencies: 20 buckets per decade
// from 10 µs to 100 s.
type latency struct{ counts [141]int64 }

func latBucket(d time.Duration) int {
	us := float64(d) / 1e3
	if us < 10 {
		return 0
	}
	return min(int(math.Log10(us/10)*20)+1, 140)
}

func latUpper(b int) time.Duration {
	return time.Duration(10 * math.Pow(10, float64(b)/20) * 1e3)
}

func (l *latency) add(o *latency) {
	for i := range l.counts {
		l.counts[i] += o.counts[i]
	}
}

func (l *latency) total() int64 {
	var n int64
	for _, c := range l.counts {
		n += c
	}
	return n
}

// quantile is the upper bound of the bucket holding quantile q.
func (l *latency) quantile(q float64) time.Duration {
	n := l.total()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i, c := range l.counts {
		seen += c
		if seen >= rank {
			return latUpper(i)
		}
	}
	return latUpper(len(l.counts) - 1)
}

// chart draws the histogram, a bar per populated range of buckets.
func (l *latency) chart(w io.Writer) {
	lo, hi := -1, 0
	var max int64
	for i, c := range l.counts {
		if c > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
			max = maxInt(max, c)
		}
	}
	if lo < 0 {
		return
	}
	fmt.Fprintln(w, "  Latency histogram (requests):")
	for i := lo; i <= hi; i += 2 {
		c := l.counts[i]
		if i+1 <= hi {
			c += l.counts[i+1]
		}
		bar := int(float64(c) / float64(2*max) * 50)
		if c > 0 && bar == 0 {
			bar = 1
		}
		fmt.Fprintf(w, "  %9s %-50s %s\n", "≤"+fmtDur(latUpper(min(i+1, hi))), strings.Repeat("█", bar), cli.Thousands(int(c)))
	}
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcPauses reads the stop-the-world GC pauses so far: their number and
// (bucket midpoints) total.
func gcPauses() (uint64, time.Duration) {
	s := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	h := s[0].Value.Float64Histogram()
	var n uint64
	var total float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		n += c
		total += float64(c) * (lo + hi) / 2
	}
	return n, time.Duration(total * 1e9)
}

// warmStats are the runtime's figures for the first second of a run,
// when every series is created and the heap grows from small: what the
// requests due then wait for besides the sink.
type warmStats struct {
	cpu, gcCPU, assist time.Duration // the process's CPU, the collector's (assists included), the assists'
	gcs                uint64        // collections
	heap               uint64        // heap in use at the end of the second
	runnable99         time.Duration // 99th percentile of goroutines' wait to run once runnable
	runnableMax        time.Duration // the largest bucket reached
}

// runtimeSnapshot reads the counters warmStats are differences of.
func runtimeSnapshot() (gcs uint64, gcCPU, assist float64, sched *metrics.Float64Histogram) {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"}, {Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		gcs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		gcCPU = s[1].Value.Float64()
	}
	if s[2].Value.Kind() == metrics.KindFloat64 {
		assist = s[2].Value.Float64()
	}
	if s[3].Value.Kind() == metrics.KindFloat64Histogram {
		sched = s[3].Value.Float64Histogram()
	}
	return
}

// warmSince is warmStats from a snapshot taken at the start.
func warmSince(cpu0 time.Duration, gcs0 uint64, gcCPU0, assist0 float64, sched0 *metrics.Float64Histogram) *warmStats {
	gcs, gcCPU, assist, sched := runtimeSnapshot()
	w := &warmStats{cpu: cpuTime() - cpu0, gcs: gcs - gcs0, heap: heapInUse(),
		gcCPU: time.Duration((gcCPU - gcCPU0) * 1e9), assist: time.Duration((assist - assist0) * 1e9)}
	if sched == nil || sched0 == nil || len(sched.Counts) != len(sched0.Counts) {
		return w
	}
	var n uint64
	d := make([]uint64, len(sched.Counts))
	for i := range d {
		d[i] = sched.Counts[i] - sched0.Counts[i]
		n += d[i]
	}
	upper := func(i int) time.Duration {
		hi := sched.Buckets[i+1]
		if math.IsInf(hi, 1) {
			hi = sched.Buckets[i]
		}
		return time.Duration(hi * 1e9)
	}
	var seen uint64
	for i, c := range d {
		if c == 0 {
			continue
		}
		seen += c
		if w.runnable99 == 0 && float64(seen) >= 0.99*float64(n) {
			w.runnable99 = upper(i)
		}
		w.runnableMax = upper(i)
	}
	return w
}

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapLive is the heap the last collection kept: what the process holds,
// without the garbage the collector lets accumulate before its next cycle
// (up to the programs' floor on its goal, procs.go).
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// runBench runs the load: o.writers goroutines, each sending its
// generator's requests one after the other (waiting for each answer) until
// the duration is up.
func runBench(ctx context.Context, o benchOpts) (*benchResult, error) {
	if o.transport == "tcp" && o.protocol != "line" {
		return nil, cli.Usagef("--transport tcp carries line protocol only")
	}
	dir := o.dataDir
	if dir == "" && o.sink == "blocks" {
		tmp, err := os.MkdirTemp("", "stage11-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	sopts := sinkOptions(o.walSync)
	sopts.NoBackgroundCompaction = o.noCompaction
	sink, closeSink, err := openSink(o.sink, dir, sopts)
	if err != nil {
		return nil, err
	}
	defer closeSink()
	p, err := ingest.New(sink, ingest.Options{Queue: o.queue, Flushers: o.flushers})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	h := server.NewHTTP(p, server.Options{Backpressure: o.bp})
	mux := http.NewServeMux()
	h.Register(mux)

	// send's status: 0 stored, 429 back-pressure (sent again), 400 the
	// server refused some of it (not sent again, as a client drops a 4xx);
	// an error without a status is sent again.
	var send func(w int) func(body []byte, lines int) (int, error)
	path, ct, enc := "/api/v2/write?org=bench&bucket=bench&precision=ns", "text/plain; charset=utf-8", ""
	switch o.protocol {
	case "remote":
		path, ct, enc = "/api/v1/write", remote.ContentTypeV1, "snappy"
	case "otlp":
		path, ct = "/api/v1/otlp/v1/metrics", "application/x-protobuf"
	case "line":
	default:
		return nil, cli.Usagef("--protocol %q: want line, remote or otlp", o.protocol)
	}
	switch o.transport {
	case "inproc":
		send = func(int) func([]byte, int) (int, error) {
			return func(body []byte, _ int) (int, error) {
				req := httptest.NewRequest("POST", path, bytes.NewReader(body))
				req.Header.Set("Content-Type", ct)
				if enc != "" {
					req.Header.Set("Content-Encoding", enc)
				}
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				return status(rec.Code, rec.Body.String())
			}
		}
	case "http":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: mux}
		go srv.Serve(ln)
		defer srv.Close()
		// A write buffer that holds a whole request: with a smaller one, net/http
		// copies the body to the socket through a 32 KiB buffer it
		// allocates per request, most of the process's garbage.
		wbuf := lineRequestBytes(o.hosts, o.rounds) + 8<<10
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.writers, MaxConnsPerHost: o.writers, DisableCompression: true, WriteBufferSize: wbuf}}
		url := "http://" + ln.Addr().String() + path
		send = func(int) func([]byte, int) (int, error) {
			return func(body []byte, _ int) (int, error) {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", ct)
				if enc != "" {
					req.Header.Set("Content-Encoding", enc)
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return status(resp.StatusCode, string(msg))
			}
		}
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		tcp := server.NewTCP(p, server.Options{Backpressure: o.bp})
		go tcp.Serve(ln)
		defer func() { ln.Close(); tcp.Close() }()
		send = func(int) func([]byte, int) (int, error) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return func([]byte, int) (int, error) { return 0, err }
			}
			br := bufio.NewReaderSize(c, 64<<10)
			return func(body []byte, lines int) (int, error) {
				if _, err := c.Write(body); err != nil {
					return 0, err
				}
				// Every reply is read, whatever they say: the next
				// request's must not find this one's left over.
				code := 0
				var refused error
				for range lines {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return 0, err
					}
					if string(line) == "ERR backpressure\n" {
						code = 429
					} else if string(line) != "OK\n" && refused == nil {
						refused = fmt.Errorf("tcp: %s", bytes.TrimSpace(line))
					}
				}
				if refused != nil && code != 429 {
					return 400, refused
				}
				return code, nil
			}
		}
	default:
		return nil, cli.Usagef("--transport %q: want http, tcp or inproc", o.transport)
	}

	var ackMu sync.Mutex
	var ackLog *os.File
	if o.ackLog != "" {
		if ackLog, err = os.OpenFile(o.ackLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		defer ackLog.Close()
	}

	// With o.samples, every writer's requests are built (and, for remote
	// write, compressed) before the clock starts, as the capstone's
	// bench-write and TSBS's loaders send bodies made beforehand: the
	// timed window then holds the sending, the server and the sink, not
	// the making of the load. Each writer's timestamps still advance
	// request by request, so the sink sees the same stream.
	var prebuilt [][][]byte
	var built, builtBytes int64
	var buildTime time.Duration
	if o.samples > 0 {
		t0 := time.Now()
		prebuilt = make([][][]byte, o.writers)
		per := loadgen.New(0, o.writers, o.hosts, o.rounds).PointsPerRequest()
		reqs := max(1, (o.samples+o.writers*per-1)/(o.writers*per))
		var bw sync.WaitGroup
		for w := range o.writers {
			bw.Go(func() {
				g := loadgen.New(w, o.writers, o.hosts, o.rounds)
				var body, buf []byte
				for range reqs {
					body, buf = makeBody(g, o.protocol, nil, buf)
					prebuilt[w] = append(prebuilt[w], body)
				}
			})
		}
		bw.Wait()
		buildTime = time.Since(t0)
		for _, bs := range prebuilt {
			for _, b := range bs {
				builtBytes += int64(len(b))
			}
		}
		built = int64(o.writers * reqs * per)
		free, err := offHeap(prebuilt, builtBytes)
		if err != nil {
			return nil, err
		}
		defer free()
	}

	res := &benchResult{built: built, builtBytes: builtBytes, buildTime: buildTime}
	var points, requests, rejected, failed, refused, leadWaits atomic.Int64
	var errOnce sync.Once
	lats := make([]latency, o.writers)
	sents := make([]latency, o.writers)
	firsts, rests := make([]latency, o.writers), make([]latency, o.writers)
	runtime.GC()
	if o.onStart != nil {
		o.onStart()
	}
	gc0, gcT0 := gcPauses()
	mach0, machOK := readCPUStat()
	gcs0, gcCPU0, assist0, sched0 := runtimeSnapshot()
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(o.duration)
	lead, stopLead := newLeadBound(ctx, o.writers, o.rounds, deadline)
	defer stopLead()
	var wg sync.WaitGroup
	for w := range o.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lead.leave(w)
			g := loadgen.New(w, o.writers, o.hosts, o.rounds)
			do := send(w)
			// A body's buffer sized for a request of line protocol from
			// the start: grown by appends instead, the 100 writers'
			// buffers were a third of what the process allocated in its
			// first 150 ms, the garbage collections of the first second
			// with it (a bench's client runs in the server's heap).
			var buf []byte
			zbuf := make([]byte, 0, lineRequestBytes(o.hosts, o.rounds))
			// With a rate, each writer sends on a schedule (the writers
			// staggered over one interval) and a request's latency counts
			// from when it was due, not from when a late writer got to
			// send it: a slow answer delays the next request, and that
			// wait is latency too (no coordinated omission).
			var interval time.Duration
			due := start
			if o.rate > 0 {
				interval = time.Duration(float64(o.writers*g.PointsPerRequest()) / o.rate * 1e9)
				due = start.Add(interval * time.Duration(w) / time.Duration(o.writers))
			}
			for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				if prebuilt != nil && n == len(prebuilt[w]) {
					break // every request made beforehand is sent
				}
				if o.rate > 0 {
					if d := time.Until(due); d > 0 {
						time.Sleep(d) // pacing the load, not synchronising
					}
				}
				if lead.wait(int64(n)) {
					leadWaits.Add(1)
				}
				if !time.Now().Before(deadline) {
					break
				}
				var body []byte
				seq := int64(n + 1)
				if prebuilt != nil {
					body = prebuilt[w][n]
				} else {
					zbuf, buf = makeBody(g, o.protocol, zbuf[:0], buf)
					body = zbuf
					seq = g.Seq()
				}
				lines := len(g.Hosts) * g.Rounds
				wasRefused := false
				for {
					t0 := time.Now()
					sent := t0
					if o.rate > 0 {
						t0 = due
					}
					code, err := do(body, lines)
					if code == 400 {
						// Refused (some of it): a client does not send it
						// again. Its points are not counted as ingested.
						refused.Add(1)
						errOnce.Do(func() { res.firstErr = err })
						wasRefused = true
						break
					}
					if err != nil {
						failed.Add(1)
						errOnce.Do(func() { res.firstErr = err })
						if ctx.Err() != nil || time.Now().After(deadline) {
							return
						}
						time.Sleep(10 * time.Millisecond)
						continue
					}
					if code == 429 {
						rejected.Add(1)
						if time.Now().After(deadline) {
							return
						}
						time.Sleep(5 * time.Millisecond) // a client's back-off: the request is sent again
						continue
					}
					b := latBucket(time.Since(t0))
					lats[w].counts[b]++
					sents[w].counts[latBucket(time.Since(sent))]++
					if t0.Sub(start) < time.Second {
						firsts[w].counts[b]++
					} else {
						rests[w].counts[b]++
					}
					break
				}
				due = due.Add(interval)
				requests.Add(1)
				lead.answered(w, int64(n+1))
				if wasRefused {
					continue
				}
				points.Add(int64(g.PointsPerRequest()))
				if ackLog != nil {
					ackMu.Lock()
					fmt.Fprintf(ackLog, "%d %d\n", w, seq)
					ackMu.Unlock()
				}
			}
		}()
	}
	// Progress and memory, once a second.
	done := make(chan struct{})
	sent := make(chan struct{}) // closed when the writers are done
	// The live heap once a second if a collection has measured it since
	// the last sample, else 0: a half of the run without a collection of
	// its own has nothing to compare.
	var heaps []uint64
	lastGCs := gcs0
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-tick.C:
			case <-sent:
				if o.progress != nil {
					fmt.Fprintln(o.progress)
				}
				return
			case <-ctx.Done():
				return
			}
			if res.warm == nil {
				res.warm = warmSince(cpu0, gcs0, gcCPU0, assist0, sched0)
			}
			live := uint64(0)
			if gcs, _, _, _ := runtimeSnapshot(); gcs > lastGCs {
				live, lastGCs = heapLive(), gcs
			}
			heaps = append(heaps, live)
			res.heapInUse = max(res.heapInUse, heapInUse())
			n := points.Load()
			if o.progress != nil {
				st := p.Stats()
				fmt.Fprintf(o.progress, "\r  %3.0fs  %s points/s  %s points  queue %d/%d  refused %s   ",
					time.Since(start).Seconds(), cli.Thousands(int(n-last)), cli.Thousands(int(n)), st.Queued, st.QueueCap, cli.Thousands(int(rejected.Load())))
			}
			last = n
			if time.Now().After(deadline) {
				if o.progress != nil {
					fmt.Fprintln(o.progress)
				}
				return
			}
		}
	}()
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = cpuTime() - cpu0
	if mach1, ok := readCPUStat(); ok && machOK {
		res.self, res.others, res.steal = machineShares(mach0, mach1, res.cpu)
		res.machine = true
	}
	close(sent)
	<-done
	gc1, gcT1 := gcPauses()
	res.gcCount, res.gcTotal = gc1-gc0, gcT1-gcT0
	runtime.GC() // after the window: the live heap at the end
	res.heapEnd = heapLive()
	for i := range lats {
		res.lat.add(&lats[i])
		res.sent.add(&sents[i])
		res.first.add(&firsts[i])
		res.rest.add(&rests[i])
	}
	res.points, res.requests, res.rejected, res.failed = points.Load(), requests.Load(), rejected.Load(), failed.Load()
	res.refused, res.leadWaits = refused.Load(), leadWaits.Load()
	res.stats = p.Stats()
	if n := len(heaps); n >= 2 {
		for i, hp := range heaps {
			if i < n/2 {
				res.heapFirst = max(res.heapFirst, hp)
			} else {
				res.heapLast = max(res.heapLast, hp)
			}
		}
	}
	if res.requests == 0 && res.firstErr != nil {
		return res, res.firstErr
	}
	return res, nil
}

// offHeap moves the bodies (size bytes in all) into memory the Go heap
// does not hold (an anonymous mapping) and returns its release. Left in
// the heap, a gigabyte of bodies would let the heap grow to twice that
// before each collection, and the run would pay a page fault for every
// fresh page its garbage lands on: CPU that the bench made, not the code.
func offHeap(bodies [][][]byte, size int64) (func() error, error) {
	if size == 0 {
		return func() error { return nil }, nil
	}
	m, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("bench: mapping %d bytes for the bodies: %w", size, err)
	}
	off := 0
	for _, bs := range bodies {
		for i, b := range bs {
			n := copy(m[off:], b)
			bs[i] = m[off : off+n : off+n]
			off += n
		}
	}
	return func() error { return syscall.Munmap(m) }, nil
}

// lineRequestBytes bounds a request of line protocol: a line of TSBS is
// about 330 bytes for 10 values.
func lineRequestBytes(hosts, rounds int) int { return hosts * rounds * 400 }

// makeBody appends g's next request in protocol to dst and returns it;
// buf is the uncompressed scratch of remote write, returned for reuse.
func makeBody(g *loadgen.Generator, protocol string, dst, buf []byte) (body, scratch []byte) {
	switch protocol {
	case "remote":
		buf = g.Remote(buf[:0])
		return loadgen.Snappy(dst, buf), buf
	case "otlp":
		return g.OTLP(dst), buf
	}
	return g.Line(dst), buf
}

// status reads an answer: 0 stored, 429 back-pressure, 400 for any other
// 4xx (refused, not to be sent again), else an error to send it again on.
func status(code int, body string) (int, error) {
	switch {
	case code == http.StatusNoContent, code == http.StatusOK:
		return 0, nil
	case code == http.StatusTooManyRequests:
		return 429, nil
	case code >= 400 && code < 500:
		return 400, fmt.Errorf("HTTP %d: %s", code, strings.TrimSpace(body))
	}
	return 0, fmt.Errorf("HTTP %d: %s", code, strings.TrimSpace(body))
}

func (r *benchResult) print(w io.Writer, o benchOpts) {
	if r.built > 0 {
		fmt.Fprintf(w, "\nRequests built before the run: %s values, %s (%.1f bytes a value), in %s\n",
			cli.Thousands(int(r.built)), cli.Bytes(r.builtBytes), float64(r.builtBytes)/float64(r.built), fmtDur(r.buildTime))
	}
	fmt.Fprintf(w, "\nResults:\n")
	fmt.Fprintf(w, "  Total points ingested: %s\n", cli.Thousands(int(r.points)))
	rate := float64(r.points) / r.elapsed.Seconds()
	perM := 0.0
	if r.points > 0 {
		perM = r.cpu.Seconds() / (float64(r.points) / 1e6)
	}
	fmt.Fprintf(w, "  Throughput: %s points/second (%.2f CPU-seconds per million, load generator included)\n\n", cli.Thousands(int(rate)), perM)
	fmt.Fprintf(w, "  Latency (p50): %s\n", fmtDur(r.lat.quantile(0.50)))
	fmt.Fprintf(w, "  Latency (p99): %s\n", fmtDur(r.lat.quantile(0.99)))
	fmt.Fprintf(w, "  Latency (p99.9): %s\n", fmtDur(r.lat.quantile(0.999)))
	if o.rate > 0 {
		fmt.Fprintf(w, "  (counted from when each request was due; from when it was sent: p50 %s, p99 %s, p99.9 %s)\n",
			fmtDur(r.sent.quantile(0.50)), fmtDur(r.sent.quantile(0.99)), fmtDur(r.sent.quantile(0.999)))
	}
	if r.first.total() > 0 && r.rest.total() > 0 {
		fmt.Fprintf(w, "  (requests due in the first second, whose series are created: %s, p99 %s; after it: %s, p50 %s, p99 %s)\n",
			cli.Thousands(int(r.first.total())), fmtDur(r.first.quantile(0.99)), cli.Thousands(int(r.rest.total())), fmtDur(r.rest.quantile(0.50)), fmtDur(r.rest.quantile(0.99)))
	}
	if m := r.warm; m != nil {
		fmt.Fprintf(w, "  (first second: process CPU %s, %d collections, GC CPU %s of which assists %s, heap in use %s at its end; goroutines waited to run p99 %s, at most %s)\n",
			fmtDur(m.cpu), m.gcs, fmtDur(m.gcCPU), fmtDur(m.assist), cli.Bytes(int64(m.heap)), fmtDur(m.runnable99), fmtDur(m.runnableMax))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  Batches flushed: %s\n", cli.Thousands(int(r.stats.Batches)))
	avg := 0.0
	if r.stats.Batches > 0 {
		avg = float64(r.stats.Points) / float64(r.stats.Batches)
	}
	fmt.Fprintf(w, "  Avg batch size: %s points (sealed full %s, by age %s, by an idle flusher %s)\n\n",
		cli.Thousands(int(avg)), cli.Thousands(int(r.stats.SealedFull)), cli.Thousands(int(r.stats.SealedAge)), cli.Thousands(int(r.stats.SealedIdle)))
	// The live heap, what the collections keep, is what the run holds;
	// the heap in use also holds the garbage the collector lets grow
	// before its next cycle (up to the programs' floor on its goal).
	stable := "stable"
	if float64(r.heapLast) > 1.1*float64(r.heapFirst) {
		stable = "growing"
	}
	if o.sink != "discard" {
		stable += ", the sink keeping the samples in memory"
	}
	halves := fmt.Sprintf("%s: at most %s found live by the first half's collections, %s by the second's",
		stable, cli.Bytes(int64(r.heapFirst)), cli.Bytes(int64(r.heapLast)))
	if r.heapFirst == 0 || r.heapLast == 0 { // sampled once a second
		halves = "no collection in each half of the run to compare"
	}
	fmt.Fprintf(w, "  Memory usage: %s live heap at the end (%s); heap in use at most %s, garbage not yet collected included\n",
		cli.Bytes(int64(r.heapEnd)), halves, cli.Bytes(int64(r.heapInUse)))
	fmt.Fprintf(w, "  GC pauses: %d (%s in all, %.3f%% of the time)\n", r.gcCount, fmtDur(r.gcTotal), 100*r.gcTotal.Seconds()/r.elapsed.Seconds())
	if r.machine {
		fmt.Fprintf(w, "  The machine's CPU time: this process %.0f%%, other processes %.0f%%, stolen by the hypervisor %.1f%% (/proc/stat; stolen time delays requests)\n",
			100*r.self, 100*r.others, 100*r.steal)
	}
	fmt.Fprintf(w, "  Back-pressure: %s requests refused and sent again; %s failed and sent again; %s refused by the server (4xx, not sent again)\n",
		cli.Thousands(int(r.rejected)), cli.Thousands(int(r.failed)), cli.Thousands(int(r.refused)))
	fmt.Fprintf(w, "  Writers held back to keep their data clocks within %s of each other: %s times\n\n", maxDataLead, cli.Thousands(int(r.leadWaits)))
	r.lat.chart(w)
	if r.firstErr != nil {
		fmt.Fprintf(w, "  first error: %v\n", r.firstErr)
	}
}

func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "bench", benchSynopsis, stderr)
	o := benchOpts{progress: stderr}
	fs.IntVar(&o.writers, "writers", 100, "concurrent writers")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long to write")
	fs.StringVar(&o.protocol, "protocol", "line", "line (InfluxDB line protocol), remote (remote write 1.0) or otlp")
	fs.StringVar(&o.transport, "transport", "http", "http (loopback), tcp (line protocol only) or inproc (the handlers called directly)")
	fs.StringVar(&o.sink, "sink", "blocks", "blocks (stage06 head and WAL), memory or discard")
	fs.StringVar(&o.dataDir, "data-dir", "", "the blocks sink's directory (default: a temporary one, removed)")
	bp := fs.String("backpressure", "block", "block or reject when the queue is full")
	walSync := walSyncFlag(fs)
	fs.IntVar(&o.flushers, "flushers", 0, "goroutines writing batches into the sink (default: the pipeline's)")
	fs.StringVar(&o.queue, "queue", "ring", "the queue of sealed batches: ring (lock-free) or chan")
	fs.IntVar(&o.hosts, "hosts", 10, "hosts per writer (10 series each)")
	fs.BoolVar(&o.noCompaction, "no-compaction", false, "run stage06 without its background head cuts and compactions (the head grows): what they cost the writes, measured apart")
	fs.Float64Var(&o.rate, "rate", 0, "values per second of all writers together, each writer sending on a schedule (latency counted from when a request was due); 0: as fast as answered")
	fs.IntVar(&o.rounds, "rounds", 10, "timestamps per request (a request holds hosts × rounds × 10 points)")
	fs.IntVar(&o.samples, "samples", 0, "values to send in all, in requests built (and compressed) before the timed window, each writer's timestamps advancing request by request; the run ends when they are sent or the duration is up (0: each writer makes each request when it sends it)")
	fs.StringVar(&o.ackLog, "ack-log", "", "append \"writer seq\" for each acknowledged request to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile (allocations: go tool pprof -sample_index=alloc_space) at the end of the run to this file")
	blockProfile := fs.String("blockprofile", "", "write a profile of where goroutines waited (channels, mutexes, conditions) to this file")
	mutexProfile := fs.String("mutexprofile", "", "write a profile of contended mutexes to this file")
	traceFile := fs.String("trace", "", "write an execution trace of the run to this file (go tool trace)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	var err error
	if o.bp, err = ingest.ParseBackpressure(*bp); err != nil {
		return cli.Usagef("%v", err)
	}
	if o.walSync, err = wal.ParseSyncPolicy(*walSync); err != nil {
		return cli.Usagef("--wal-sync: %v", err)
	}
	if err := o.check(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Starting ingestion benchmark...\nWriters: %d concurrent\nDuration: %s\n", o.writers, o.duration)
	fmt.Fprintf(stdout, "Protocol: %s over %s, %s points per request, into %s\n", o.protocol, o.transport, cli.Thousands(o.hosts*o.rounds*10), sinkName(o.sink, o.walSync))
	if o.rate > 0 {
		fmt.Fprintf(stdout, "Paced: %s values/s in all\n", cli.Thousands(int(o.rate)))
	}
	fmt.Fprintln(stdout, procsLine(os.Getenv("GOMAXPROCS")))
	// The profiles and the trace cover the timed window only, not the
	// requests built before it (--samples).
	var profErr error
	var stops []func()
	o.onStart = func() {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err == nil {
				if err = pprof.StartCPUProfile(f); err != nil {
					f.Close()
				}
			}
			if err != nil {
				profErr = err
				return
			}
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
		if *blockProfile != "" {
			runtime.SetBlockProfileRate(int(10 * time.Microsecond))
			stops = append(stops, func() { runtime.SetBlockProfileRate(0) })
		}
		if *mutexProfile != "" {
			runtime.SetMutexProfileFraction(10)
			stops = append(stops, func() { runtime.SetMutexProfileFraction(0) })
		}
		if *traceFile != "" {
			f, err := os.Create(*traceFile)
			if err == nil {
				if err = trace.Start(f); err != nil {
					f.Close()
				}
			}
			if err != nil {
				profErr = err
				return
			}
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	res, err := runBench(context.Background(), o)
	for _, f := range stops {
		f()
	}
	if err == nil {
		err = profErr
	}
	if err != nil {
		var ue cli.UsageError
		if errors.As(err, &ue) {
			return err
		}
		return fmt.Errorf("bench: %w", err)
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	for _, pr := range []struct{ name, file string }{{"block", *blockProfile}, {"mutex", *mutexProfile}} {
		if pr.file == "" {
			continue
		}
		f, err := os.Create(pr.file)
		if err != nil {
			return err
		}
		err = pprof.Lookup(pr.name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	res.print(stdout, o)
	return nil
}

func sinkName(s string, sync wal.SyncPolicy) string {
	switch s {
	case "blocks":
		return "stage06's head with its WAL (" + walSyncText(sync) + ")"
	case "memory":
		return "memory"
	}
	return "nothing (discard)"
}
