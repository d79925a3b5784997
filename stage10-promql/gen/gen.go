// Package gen makes the synthetic data the demo and the benchmarks query:
// Prometheus-shaped metrics (counters with resets, a classic histogram,
// gauges, a target that goes stale) from a fixed seed, so every run and
// every machine sees the same numbers.
package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Appender receives samples; promql.MemStorage is one, and the compare/
// benchmarks wrap Prometheus's own storage in another.
type Appender interface {
	Append(l model.Labels, t int64, v float64) error
}

// StaleNaN is the staleness marker's bit pattern (see promql.StaleNaN);
// repeated here so that gen does not import the engine it feeds.
var StaleNaN = math.Float64frombits(0x7ff0000000000002)

// DurationBuckets are the histogram's upper bounds in seconds.
var DurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, math.Inf(1)}

type counter struct {
	labels model.Labels
	rate   float64 // per second
	value  float64
}

// Demo writes the REPL's data set: [start, start+span] every scrape.
//   - http_requests_total{method,status}: counters; the POST ones restart
//     (reset to 0) two thirds of the way through;
//   - http_requests_started{method}: requests begun, about 5% more than
//     completed (the POST one restarts with its handler);
//   - http_request_duration_seconds_bucket{le} (+ _sum, _count): a classic
//     histogram of log-normal latencies, median about 120ms;
//   - node_memory_used_bytes{instance} and room_temperature_celsius{room}:
//     gauges;
//   - up{instance}: instance "c" stops at half time with a staleness marker.
func Demo(app Appender, start time.Time, span, scrape time.Duration, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	reqs := []*counter{
		{labels: metric("http_requests_total", "method", "GET", "status", "200"), rate: 5},
		{labels: metric("http_requests_total", "method", "GET", "status", "404"), rate: 0.15},
		{labels: metric("http_requests_total", "method", "GET", "status", "500"), rate: 0.05},
		{labels: metric("http_requests_total", "method", "POST", "status", "200"), rate: 3},
		{labels: metric("http_requests_total", "method", "POST", "status", "500"), rate: 0.02},
	}
	started := map[string]*counter{
		"GET":  {labels: metric("http_requests_started", "method", "GET")},
		"POST": {labels: metric("http_requests_started", "method", "POST")},
	}
	bucketLabels := make([]model.Labels, len(DurationBuckets))
	bucketCounts := make([]float64, len(DurationBuckets))
	for i, le := range DurationBuckets {
		bucketLabels[i] = metric("http_request_duration_seconds_bucket", "job", "api", "le", formatLE(le))
	}
	sumL := metric("http_request_duration_seconds_sum", "job", "api")
	countL := metric("http_request_duration_seconds_count", "job", "api")
	var durSum, durCount float64
	mem := map[string]float64{"a": 2 << 30, "b": 3 << 30}
	n := int(span / scrape)
	t0 := start.UnixMilli()
	dt := scrape.Seconds()
	for i := 0; i <= n; i++ {
		t := t0 + int64(i)*scrape.Milliseconds()
		for _, c := range reqs {
			// Floor of expectation plus a uniform draw: whole requests, and
			// slow series still see one now and then.
			inc := math.Floor(c.rate*dt*(0.7+0.6*rng.Float64()) + rng.Float64())
			if i == 2*n/3 && c.labels.Get("method") == "POST" {
				// The POST handler's process restarted: its counters start
				// again from 0.
				c.value = 0
				started["POST"].value = 0
			}
			c.value += inc
			started[c.labels.Get("method")].value += inc / 0.95
			if err := app.Append(c.labels, t, c.value); err != nil {
				return err
			}
			if c.labels.Get("method") == "GET" {
				// Every GET is observed by the latency histogram.
				for range int(inc) {
					d := math.Exp(math.Log(0.12) + 0.9*rng.NormFloat64())
					durSum += d
					durCount++
					for b, le := range DurationBuckets {
						if d <= le {
							bucketCounts[b]++
						}
					}
				}
			}
		}
		for _, m := range []string{"GET", "POST"} {
			if err := app.Append(started[m].labels, t, math.Round(started[m].value)); err != nil {
				return err
			}
		}
		for b := range DurationBuckets {
			if err := app.Append(bucketLabels[b], t, bucketCounts[b]); err != nil {
				return err
			}
		}
		if err := app.Append(sumL, t, durSum); err != nil {
			return err
		}
		if err := app.Append(countL, t, durCount); err != nil {
			return err
		}
		for _, inst := range []string{"a", "b"} {
			mem[inst] += (rng.Float64() - 0.5) * (8 << 20)
			if err := app.Append(metric("node_memory_used_bytes", "instance", inst), t, math.Round(mem[inst])); err != nil {
				return err
			}
		}
		for k, room := range []string{"lab", "office"} {
			v := 21 + 2*float64(k) + 1.5*math.Sin(2*math.Pi*float64(i)/float64(n+1)) + 0.2*rng.NormFloat64()
			if err := app.Append(metric("room_temperature_celsius", "room", room), t, math.Round(v*100)/100); err != nil {
				return err
			}
		}
		for _, inst := range []string{"a", "b", "c"} {
			v := 1.0
			if inst == "c" && i > n/2 {
				continue
			}
			if inst == "c" && i == n/2 {
				v = StaleNaN // the target vanished: its scraper marks it stale
			}
			if err := app.Append(metric("up", "instance", inst), t, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Benchmark writes the benchmark data set over [start, start+span]:
// `series` http_requests_total counters spread over 4 methods × 5 statuses
// × series/20 instances, and a classic histogram h_bucket with 10 buckets
// for each of series/10 instances (another `series` series).
func Benchmark(app Appender, series int, start time.Time, span, scrape time.Duration, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	statuses := []string{"200", "201", "404", "500", "503"}
	type cs struct {
		l       model.Labels
		rate, v float64
	}
	var counters []cs
	for i := 0; len(counters) < series; i++ {
		inst := "i" + strconv.Itoa(i)
		for _, m := range methods {
			for _, s := range statuses {
				if len(counters) < series {
					counters = append(counters, cs{l: metric("http_requests_total", "instance", inst, "method", m, "status", s), rate: 0.1 + 10*rng.Float64()})
				}
			}
		}
	}
	les := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, math.Inf(1)}
	var hist []cs
	for i := 0; len(hist) < series; i++ {
		inst := "i" + strconv.Itoa(i)
		for _, le := range les {
			if len(hist) < series {
				hist = append(hist, cs{l: metric("h_bucket", "instance", inst, "le", formatLE(le))})
			}
		}
	}
	n := int(span / scrape)
	for i := 0; i <= n; i++ {
		t := start.UnixMilli() + int64(i)*scrape.Milliseconds()
		for k := range counters {
			c := &counters[k]
			c.v += math.Round(c.rate * scrape.Seconds() * (0.5 + rng.Float64()))
			if err := app.Append(c.l, t, c.v); err != nil {
				return err
			}
		}
		// Each instance's histogram: observations land in bucket b with a
		// fixed probability, cumulative counts grow accordingly.
		for k := 0; k < len(hist); k += len(les) {
			obs := math.Round(50 * (0.5 + rng.Float64()))
			cum := 0.0
			for b := 0; b < len(les) && k+b < len(hist); b++ {
				cum += math.Round(obs * bucketShare[b])
				if b == len(les)-1 {
					cum = obs // +Inf holds every observation
				}
				h := &hist[k+b]
				h.v += cum
				if err := app.Append(h.l, t, h.v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bucketShare: the fraction of observations in each bucket (not
// cumulative).
var bucketShare = []float64{0.02, 0.05, 0.1, 0.2, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01}

func formatLE(le float64) string {
	if math.IsInf(le, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(le, 'f', -1, 64)
}

func metric(name string, kv ...string) model.Labels {
	l, err := model.FromStrings(append([]string{model.MetricName, name}, kv...)...)
	if err != nil {
		panic(fmt.Sprintf("gen: %v", err)) // the label sets above are constants
	}
	return l
}
