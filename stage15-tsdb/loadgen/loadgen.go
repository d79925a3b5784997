// Package loadgen is the remote-write load generator behind `tsdb
// bench-write` and the ingestion benchmark: requests built ahead of time
// (encoded and snappy-compressed, so the sending side costs only the HTTP
// round trip), sent by a few keep-alive senders, each request's latency
// recorded.
//
// The series look like node_exporter's: 10 metric names × 10 CPUs × N/100
// instances, counters that grow by a random step every 15 s scrape. Each
// sender owns a disjoint share of the series (as Prometheus's remote-write
// shards do), so the samples of a series always arrive in time order even
// with several requests in flight.
package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage15-tsdb/client"
)

// Spec describes the load.
type Spec struct {
	Series  int   // distinct series (default 10,000)
	Batch   int   // samples per request (default 2,000)
	Senders int   // concurrent keep-alive senders (default 4)
	Samples int   // total samples, rounded up to whole requests per sender (default 10,000,000)
	Start   int64 // timestamp of the first scrape, ms (default 2024-01-01T00:00Z)
	Seed    uint64
}

func (s Spec) withDefaults() Spec {
	if s.Series <= 0 {
		s.Series = 10_000
	}
	if s.Batch <= 0 {
		s.Batch = 2_000
	}
	if s.Senders <= 0 {
		s.Senders = 4
	}
	if s.Samples <= 0 {
		s.Samples = 10_000_000
	}
	if s.Start == 0 {
		s.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	}
	return s
}

// ScrapeInterval is the step between a series' samples.
const ScrapeInterval = 15_000

var metricNames = []string{
	"node_cpu_seconds_total", "node_cpu_guest_seconds_total", "node_interrupts_total", "node_context_switches_total",
	"node_network_receive_bytes_total", "node_network_transmit_bytes_total", "node_disk_read_bytes_total",
	"node_disk_written_bytes_total", "node_softirqs_total", "node_schedstat_running_seconds_total",
}

// Labels returns the label set of series i.
func Labels(i int) model.Labels {
	return model.MustFromStrings(
		"__name__", metricNames[i%10],
		"cpu", fmt.Sprint(i/10%10),
		"instance", fmt.Sprintf("host-%04d:9100", i/100),
		"job", "node",
		"datacenter", fmt.Sprintf("dc-%d", i/100%4),
	)
}

// Load is a built load: Requests[k] is sender k's requests, in order.
type Load struct {
	Spec     Spec
	Requests [][][]byte
	Samples  int   // samples in all requests
	Bytes    int64 // compressed bytes of all requests
	MaxT     int64 // newest timestamp written
}

// Build encodes the requests of spec.
func Build(spec Spec) *Load {
	spec = spec.withDefaults()
	l := &Load{Spec: spec, Requests: make([][][]byte, spec.Senders)}
	perSender := (spec.Samples + spec.Senders - 1) / spec.Senders
	perSender = (perSender + spec.Batch - 1) / spec.Batch * spec.Batch
	var wg sync.WaitGroup
	var mu sync.Mutex
	for k := range spec.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Sender k's series: i ≡ k (mod Senders).
			var own []model.Labels
			for i := k; i < spec.Series; i += spec.Senders {
				own = append(own, Labels(i))
			}
			rng := rand.New(rand.NewPCG(spec.Seed, uint64(k)))
			values := make([]float64, len(own))
			batch := make([]remote.Series, 0, spec.Batch)
			samples := make([]model.Sample, spec.Batch)
			var raw []byte
			var reqs [][]byte
			var bytes int64
			maxT := int64(0)
			for n := 0; n < perSender; n++ {
				i, round := n%len(own), int64(n/len(own))
				values[i] += float64(rng.IntN(1000))
				t := spec.Start + round*ScrapeInterval
				maxT = max(maxT, t)
				samples[len(batch)] = model.Sample{T: t, V: values[i]}
				batch = append(batch, remote.Series{Labels: own[i], Samples: samples[len(batch) : len(batch)+1]})
				if len(batch) == spec.Batch {
					raw = remote.AppendWriteRequest(raw[:0], batch)
					req := remote.Compress(nil, raw)
					reqs = append(reqs, req)
					bytes += int64(len(req))
					batch = batch[:0]
				}
			}
			mu.Lock()
			l.Requests[k] = reqs
			l.Samples += perSender
			l.Bytes += bytes
			l.MaxT = max(l.MaxT, maxT)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return l
}

// Result is what a run measured.
type Result struct {
	Samples   int           // samples acknowledged
	Requests  int           // requests acknowledged
	Failed    int           // requests that failed
	FirstErr  error         // the first failure
	Elapsed   time.Duration // wall time of the run
	Latencies []time.Duration
}

// SamplesPerSecond is the acknowledged ingestion rate.
func (r *Result) SamplesPerSecond() float64 { return float64(r.Samples) / r.Elapsed.Seconds() }

// Quantile returns the q-quantile of request latency (nearest rank).
func (r *Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// Run sends the load to c, each sender its requests in order, until all
// are sent or ctx ends. onAck, if not nil, gets each acknowledged
// request's sample count (for a progress line). Failed requests are
// counted, not retried.
func Run(ctx context.Context, c *client.Client, l *Load, onAck func(n int)) *Result {
	res := &Result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for k := range l.Requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, len(l.Requests[k]))
			ok, failed := 0, 0
			var first error
			for _, req := range l.Requests[k] {
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				err := c.SendRaw(ctx, req)
				if err != nil {
					failed++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				ok++
				if onAck != nil {
					onAck(l.Spec.Batch)
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.Requests += ok
			res.Failed += failed
			if res.FirstErr == nil {
				res.FirstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Samples = res.Requests * l.Spec.Batch
	slices.Sort(res.Latencies)
	return res
}
