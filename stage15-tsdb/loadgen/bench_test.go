package loadgen_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/loadgen"
	"github.com/tsdb-course/stage15-tsdb/server"
)

// BenchmarkRemoteWrite is the capstone's ingestion workload in one process:
// 10,000 series, requests of 2,000 pre-built samples, 4 keep-alive senders,
// over loopback HTTP into a server on a fresh data directory (started
// outside the timer) with each --wal.sync policy a user would choose.
// Each iteration sends TSDB_BENCH_SAMPLES (default 2,000,000) samples and
// checks that every one was acknowledged. cpu-s/M counts this process,
// that is the senders too; `tsdb bench-write` runs the server in a process
// of its own to report the server's CPU and memory alone.
func BenchmarkRemoteWrite(b *testing.B) {
	samples := 2_000_000
	if v, err := strconv.Atoi(os.Getenv("TSDB_BENCH_SAMPLES")); err == nil && v > 0 {
		samples = v
	}
	load := loadgen.Build(loadgen.Spec{Samples: samples, Seed: 1})
	for _, policy := range []string{"interval", "batch"} {
		b.Run("sync="+policy, func(b *testing.B) {
			var sent int
			var elapsed, cpu time.Duration
			var p99s []time.Duration
			for b.Loop() {
				b.StopTimer()
				s, c := startServer(b, policy)
				b.StartTimer()
				c0 := measure.CPUTime()
				res := loadgen.Run(context.Background(), c, load, nil)
				cpu += measure.CPUTime() - c0
				b.StopTimer()
				if res.Failed > 0 || res.Samples != load.Samples {
					b.Fatalf("%d failed requests (%v), %d of %d samples acknowledged", res.Failed, res.FirstErr, res.Samples, load.Samples)
				}
				sent += res.Samples
				elapsed += res.Elapsed
				p99s = append(p99s, res.Quantile(0.99))
				if err := s.Shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(sent)/elapsed.Seconds(), "samples/s")
			b.ReportMetric(cpu.Seconds()/(float64(sent)/1e6), "cpu-s/M")
			b.ReportMetric(float64(median(p99s))/1e6, "p99-ms")
		})
	}
}

func startServer(b *testing.B, policy string) (*server.Server, *client.Client) {
	cfg := config.Default()
	cfg.Listen, cfg.DataDir, cfg.Retention = "127.0.0.1:0", b.TempDir(), 0
	cfg.Write.WALSync = policy
	s, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	c, err := client.New(s.Addr(), client.Options{MaxRetries: -1, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ok, _ := c.Ready(context.Background()); ok {
			return s, c
		}
		if time.Now().After(deadline) {
			b.Fatal("server not ready in 1m")
		}
	}
}

// median of a few per-iteration figures: one slow iteration on a shared
// machine should not be the figure.
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
