package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/ingest/server"
	"github.com/tsdb-course/stage11-ingest/loadgen"
)

// Milestone 1: single-threaded parsing reaches 200K points/s, graded as
// CPU time: 1M TSBS points (lines, 10 values each) parsed into pipeline
// writes in at most 5 CPU-seconds, every value accounted for.
func TestMilestone1_SingleThreadedParsing(t *testing.T) {
	if raceEnabled {
		t.Skip("CPU time under the race detector means nothing")
	}
	lines := tsbsLines(t, 216_000)
	bs := bodies(lines, 1000)
	p, err := ingest.New(ingest.Discard{}, ingest.Options{Flushers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var d influx.Decoder
	runtime.GC()
	cpu0 := cpuTime()
	parsed, values := 0, 0
	for parsed < 1_000_000 {
		values += writeBodies(t, p, &d, bs)
		parsed += len(lines)
	}
	cpu := cpuTime() - cpu0
	if values != parsed*10 {
		t.Fatalf("%d values from %d lines, want 10 per line", values, parsed)
	}
	rate := float64(parsed) / cpu.Seconds()
	t.Logf("%d TSBS points (%d values) in %.2f CPU-s: %.0f points/s, %.0f values/s per core", parsed, values, cpu.Seconds(), rate, rate*10)
	if cpu > 5*time.Second*time.Duration(parsed)/1_000_000 {
		t.Fatalf("%.2f CPU-s for %d points: more than 5 CPU-s per million (200K points/s)", cpu.Seconds(), parsed)
	}
}

// Milestone 2: multi-threaded ingestion scales: the CPU cost per point
// does not grow (by more than 1.3×) from 1 to 8 writers, and the mutex
// profile shows no contended lock on the append path (Begin, Series, Add,
// End). More writers may cost less per point (a lone writer waits for
// each flush and pays the wake-ups alone); a contended lock or a shared
// cache line makes them cost more.
func TestMilestone2_ScalesWithWriters(t *testing.T) {
	if raceEnabled {
		t.Skip("CPU time under the race detector means nothing")
	}
	lines := tsbsLines(t, 80_000)
	bs := bodies(lines, 500)
	// Rounds alternate the writer counts; the best of each counts (other
	// jobs only add CPU time). Five rounds at least; while a count still
	// costs more than 1.3× a smaller one, up to fifteen: a shared machine
	// sometimes inflates one count's rounds in a row, whereas a shared
	// lock on the append path costs more in every round, however many.
	perPoint := map[int]float64{}
	var over []string
	for round := 1; round <= 15; round++ {
		for _, writers := range []int{1, 2, 4, 8} {
			if c := cpuPerPoint(t, writers, bs); perPoint[writers] == 0 || c < perPoint[writers] {
				perPoint[writers] = c
			}
		}
		over = over[:0]
		cheapest := perPoint[1] // of fewer writers
		for _, w := range []int{2, 4, 8} {
			if perPoint[w] > 1.3*cheapest {
				over = append(over, fmt.Sprintf("%d writers: %.0f ns CPU per value, more than 1.3× the %.0f ns of fewer writers", w, perPoint[w], cheapest))
			}
			cheapest = min(cheapest, perPoint[w])
		}
		if round >= 5 && len(over) == 0 {
			t.Logf("%d rounds", round)
			break
		}
	}
	for _, w := range []int{1, 2, 4, 8} {
		t.Logf("%d writers: %.0f ns CPU per value", w, perPoint[w])
	}
	for _, o := range over {
		t.Error(o)
	}

	runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(0)
	before := appendPathContention()
	writes := 0
	for range 3 {
		cpuPerPoint(t, 8, bs)
		writes += len(bs)
	}
	after := appendPathContention()
	events, stacks := after.events-before.events, after.stacks
	t.Logf("mutex contention on the append path: %d events in %d writes\n%s", events, writes, stacks)
	if float64(events) > 0.01*float64(writes) {
		t.Errorf("%d contended locks on the append path in %d writes, e.g.\n%s", events, writes, stacks)
	}
}

// cpuPerPoint writes every body once, split among writers goroutines, and
// returns the process's CPU ns per value.
func cpuPerPoint(t *testing.T, writers int, bs [][]byte) float64 {
	p, err := ingest.New(ingest.Discard{}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	runtime.GC()
	var values atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d influx.Decoder
			var mine [][]byte
			for i := w; i < len(bs); i += writers {
				mine = append(mine, bs[i])
			}
			values.Add(int64(writeBodies(t, p, &d, mine)))
		}()
	}
	wg.Wait()
	return float64(cpuTime()-cpu0) / float64(values.Load())
}

type contention struct {
	events int64
	stacks string
}

// appendPathContention sums the mutex profile's contention events whose
// stack passes through the pipeline's append path.
func appendPathContention() contention {
	var recs []runtime.BlockProfileRecord
	n, _ := runtime.MutexProfile(nil)
	for {
		recs = make([]runtime.BlockProfileRecord, n+10)
		var ok bool
		if n, ok = runtime.MutexProfile(recs); ok {
			recs = recs[:n]
			break
		}
	}
	var c contention
	for _, r := range recs {
		frames := runtime.CallersFrames(r.Stack())
		var names []string
		hot := false
		for {
			f, more := frames.Next()
			names = append(names, f.Function)
			for _, fn := range []string{"ingest.(*Write).Add", "ingest.(*Write).Series", "ingest.(*Pipeline).Begin", "ingest.(*Write).End", "influx.(*Decoder).Decode"} {
				if strings.HasSuffix(f.Function, fn) {
					hot = true
				}
			}
			if !more {
				break
			}
		}
		if hot {
			c.events += r.Count
			if len(c.stacks) < 2000 {
				c.stacks += strings.Join(names, " < ") + "\n"
			}
		}
	}
	return c
}

// slowSink stores into memory at a fixed rate, standing for a storage
// engine whose speed does not depend on the load generator: it sets the
// pipeline's maximum rate. The cost is kept on one virtual clock shared by
// the flushers (a batch finishes perPoint × its points after the previous
// one, or after now if the sink was idle), so a sleep that oversleeps
// delays that batch but costs no capacity: the maximum is 1/perPoint
// points per second whatever the batch sizes and the machine's load.
type slowSink struct {
	*ingest.MemorySink
	perPoint time.Duration

	mu        sync.Mutex
	busyUntil time.Time
}

func (s *slowSink) Write(b *ingest.Batch) error {
	s.mu.Lock()
	s.busyUntil = later(s.busyUntil, time.Now()).Add(time.Duration(b.Len()) * s.perPoint)
	done := s.busyUntil
	s.mu.Unlock()
	time.Sleep(time.Until(done))
	return s.MemorySink.Write(b)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// openLoop sends requests at rate values/s (requests of the generators'
// size, round-robin over writers) for d, through the HTTP handler in
// process; latency counts from the scheduled send time, so a request
// that waits for a writer to be free counts that wait. It returns the
// latencies of stored requests (in send order), the number refused with
// 429, and the acknowledged (writer, seq) pairs.
func openLoop(t *testing.T, mux http.Handler, gens []*loadgen.Generator, rate float64, d time.Duration) (lat []time.Duration, refused int, acked [][2]int64) {
	per := gens[0].PointsPerRequest()
	interval := time.Duration(float64(time.Second) * float64(per) / rate)
	var mu sync.Mutex
	free := make(chan int, len(gens))
	for i := range gens {
		free <- i
	}
	var wg sync.WaitGroup
	start := time.Now()
	for k := 0; ; k++ {
		at := start.Add(time.Duration(k) * interval)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		w := <-free
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { free <- w }()
			g := gens[w]
			body := g.Line(nil)
			seq := g.Seq()
			req := httptest.NewRequest("POST", "/api/v2/write?org=o&bucket=b", strings.NewReader(string(body)))
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			l := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			switch rec.Code {
			case 204:
				lat = append(lat, l)
				acked = append(acked, [2]int64{int64(w), seq})
			case 429:
				refused++
				g.Rewind() // the same points again next time
			default:
				t.Errorf("answer %d: %s", rec.Code, rec.Body)
			}
		}()
	}
	wg.Wait()
	return lat, refused, acked
}

func p99(l []time.Duration) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, len(s)*99/100)]
}

// Milestone 3: latency stays stable under load. The sink stores 200K
// points/s (5 µs per point on one clock, see slowSink), far below what
// one core parses, so the pipeline's maximum is set by the sink rather
// than by how much CPU the machine's other jobs leave; batches of 2,000
// points keep a full queue a few tens of milliseconds of sink work. At 50 % and 90 % of the measured maximum the p99 stays
// within 3× of each other; at twice the maximum, with a Reject listener,
// writers get 429s instead of growing latency (the last third's p99 no
// worse than 2× the first third's, plus a millisecond), and every
// acknowledged point is in the sink.
func TestMilestone3_StableLatency(t *testing.T) {
	if raceEnabled {
		t.Skip("latency under the race detector means nothing")
	}
	const writers = 64
	newRig := func(bp ingest.Backpressure, queue int) (*ingest.MemorySink, http.Handler, []*loadgen.Generator, func()) {
		sink := ingest.NewMemorySink()
		p, err := ingest.New(&slowSink{MemorySink: sink, perPoint: 5 * time.Microsecond}, ingest.Options{BatchSize: 2000, QueueSize: queue, BlockTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		server.NewHTTP(p, server.Options{Backpressure: bp}).Register(mux)
		gens := make([]*loadgen.Generator, writers)
		for i := range gens {
			gens[i] = loadgen.New(i, writers, 10, 10) // 1,000 values per request
		}
		return sink, mux, gens, func() { p.Close() }
	}
	// The maximum: closed loop, every writer sending as fast as answered.
	_, mux, gens, stop := newRig(ingest.Block, 16)
	var values atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, g := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 2*time.Second {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v2/write?org=o&bucket=b", strings.NewReader(string(g.Line(nil)))))
				if rec.Code == 204 {
					values.Add(int64(g.PointsPerRequest()))
				}
			}
		}()
	}
	wg.Wait()
	stop()
	maxRate := float64(values.Load()) / time.Since(start).Seconds()
	t.Logf("maximum: %.0f values/s", maxRate)

	// Latency tests on a shared machine: an attempt can fall in a phase
	// when other jobs take the cores; a real fault (no batching, no
	// back-pressure) fails all five.
	ok := false
	for attempt := 1; attempt <= 5 && !ok; attempt++ {
		var p99s []time.Duration
		for _, frac := range []float64{0.5, 0.9} {
			_, mux, gens, stop := newRig(ingest.Block, 16)
			lat, refused, _ := openLoop(t, mux, gens, frac*maxRate, 3*time.Second)
			stop()
			p99s = append(p99s, p99(lat))
			t.Logf("attempt %d, %.0f%% of the maximum: %d requests, p99 %v, %d refused", attempt, frac*100, len(lat), p99(lat), refused)
		}
		ok = p99s[1] <= 3*p99s[0]
	}
	if !ok {
		t.Errorf("p99 at 90%% of the maximum more than 3× the p99 at 50%%, five times")
	}

	var sink *ingest.MemorySink
	var acked [][2]int64
	ok = false
	for attempt := 1; attempt <= 3 && !ok; attempt++ {
		s, mux, g, stop := newRig(ingest.Reject, 4)
		lat, refused, a := openLoop(t, mux, g, 2*maxRate, 3*time.Second)
		stop()
		sink, acked, gens = s, a, g
		third := len(lat) / 3
		first, last := p99(lat[:third]), p99(lat[len(lat)-third:])
		t.Logf("attempt %d, twice the maximum: %d stored, %d refused with 429; p99 %v in the first third, %v in the last", attempt, len(lat), refused, first, last)
		ok = refused > 0 && last <= 2*first+10*time.Millisecond
	}
	if !ok {
		t.Errorf("at twice the maximum rate: no back-pressure, or latency grew, three times")
	}
	// Every acknowledged request's points are in the sink.
	stored := sink.Series()
	for _, a := range acked {
		w, seq := int(a[0]), a[1]
		ts := loadgen.Start + (seq-1)*loadgen.Step
		for _, h := range gens[w].Hosts {
			s := stored[loadgen.SeriesLabels(h, 0).String()]
			if !slices.ContainsFunc(s, func(x model.Sample) bool { return x.T == ts }) {
				t.Fatalf("writer %d request %d acknowledged, host %d has no sample at %d", w, seq, h, ts)
			}
		}
	}
}

// Milestone 4: memory stays flat: heap in use after 10M and after 100M
// points within 10 %, and allocations per point about zero.
func TestMilestone4_FlatMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations under the race detector mean nothing")
	}
	if testing.Short() {
		t.Skip("100M points take about a minute")
	}
	p, err := ingest.New(ingest.Discard{}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const writers = 2
	gens := make([]*loadgen.Generator, writers)
	bufs := make([][]byte, writers)
	for i := range gens {
		gens[i] = loadgen.New(i, writers, 100, 10) // 10,000 values per request
	}
	var total int64
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	run := func(upTo int64) {
		for total < upTo {
			var wg sync.WaitGroup
			var n atomic.Int64
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var d influx.Decoder
					for range 50 {
						bufs[w] = gens[w].Line(bufs[w][:0])
						n.Add(int64(writeBodies(t, p, &d, [][]byte{bufs[w]})))
					}
				}()
			}
			wg.Wait()
			total += n.Load()
		}
	}
	run(10_000_000)
	h10 := heap()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := total
	run(100_000_000)
	h100 := heap()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	perPoint := float64(m1.Mallocs-m0.Mallocs) / float64(total-start)
	t.Logf("heap in use %.1f MiB after %dM points, %.1f MiB after %dM; %.4f allocations per point",
		float64(h10)/(1<<20), start/1_000_000, float64(h100)/(1<<20), total/1_000_000, perPoint)
	if d := float64(h100) / float64(h10); d > 1.1 || d < 0.9 {
		t.Errorf("heap in use changed %.1f%% between 10M and 100M points", (d-1)*100)
	}
	if perPoint > 0.01 {
		t.Errorf("%.4f allocations per point", perPoint)
	}
}
