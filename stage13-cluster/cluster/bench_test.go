package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// cpuTime is the process's user+system CPU time: the whole cluster runs
// in this process, so it is the cluster's cost, whatever the machine's
// other load does to wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchCluster(b *testing.B, n, rf int) []*Node {
	base := b.TempDir()
	var nodes []*Node
	for i := 1; i <= n; i++ {
		cfg := Config{ID: fmt.Sprintf("node-%d", i), DataDir: filepath.Join(base, fmt.Sprint(i)), Replication: rf,
			Gossip: fastGossip(Meta{}), FailureTimeout: time.Hour, RingInterval: 50 * time.Millisecond}
		if len(nodes) > 0 {
			cfg.Gossip.Seeds = []string{nodes[0].Gossip()}
		}
		node, err := Start(cfg)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, node)
	}
	b.Cleanup(func() {
		for _, x := range nodes {
			_ = x.Close()
		}
	})
	eventually(b, 90*time.Second, "ring converged", func() bool {
		for _, x := range nodes {
			if len(ringIDs(x.Placement())) != n || !x.Healed() {
				return false
			}
		}
		return true
	})
	return nodes
}

// BenchmarkWrite: a client's remote write of 1,000 series (one sample
// each) to the first node, acknowledged at quorum; on one node (RF=1) and
// on three (RF=3, two replicas over HTTP). cpu-ns/sample is the process's
// CPU time per acknowledged sample, the client and the whole cluster
// included: the RF=3 figure over the RF=1 one is the cost of replication.
func BenchmarkWrite(b *testing.B) {
	for _, tc := range []struct{ nodes, rf int }{{1, 1}, {3, 3}} {
		b.Run(fmt.Sprintf("nodes=%d/rf=%d", tc.nodes, tc.rf), func(b *testing.B) {
			nodes := benchCluster(b, tc.nodes, tc.rf)
			const batch = 1000
			t0 := time.Now().Add(-time.Hour).UnixMilli()
			data := genSeries(batch, 1, t0, 1)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				for k := range data {
					data[k].Samples[0].T = t0 + int64(i)*1000
				}
				body := remote.Compress(nil, remote.AppendWriteRequest(nil, data))
				resp, err := http.Post("http://"+nodes[0].API()+PathWrite, "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					b.Fatalf("write: %s", resp.Status)
				}
			}
			cpu := cpuTime() - cpu0
			b.StopTimer()
			samples := float64(b.N * batch)
			b.ReportMetric(float64(cpu.Nanoseconds())/samples, "cpu-ns/sample")
			b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// dbTransport writes into another node's DB directly: healing's own cost,
// without HTTP.
type dbTransport struct{ db *tsdb.DB }

func (d dbTransport) Write(_ context.Context, _ Meta, s []remote.Series) error {
	_, err := appendLocal(d.db, s)
	return err
}
func (d dbTransport) Read(context.Context, Meta, int64, int64, []*index.Matcher) ([]remote.Series, error) {
	return nil, nil
}

// BenchmarkHeal: one healing pass that streams every series of a node
// (1,000 series × 120 samples) to a new owner.
func BenchmarkHeal(b *testing.B) {
	src, err := tsdb.Open(b.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	data := genSeries(1000, 120, time.Now().Add(-2*time.Hour).UnixMilli(), 1)
	if _, err := appendLocal(src, data); err != nil {
		b.Fatal(err)
	}
	// RF=2 over {a, b}: every series of a goes to b.
	to, _ := NewRing([]RingNode{{ID: "a"}, {ID: "b"}}, RingConfig{Replication: 2})
	pl := Placement{Ring: to, Nodes: []Meta{{ID: "a"}, {ID: "b"}}}
	b.ResetTimer()
	var streamed int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst, err := tsdb.Open(b.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		from, _ := NewRing([]RingNode{{ID: "a"}}, RingConfig{Replication: 2})
		st, err := healPass(context.Background(), "a", src, Placement{Ring: from, Nodes: []Meta{{ID: "a"}}}, pl, dbTransport{dst}, healOptions{}, nil)
		if err != nil || st.Streamed != 1000 {
			b.Fatalf("heal: %+v %v", st, err)
		}
		streamed += st.Samples
		b.StopTimer()
		dst.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(streamed)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkHealHTTP: BenchmarkHeal over the wire, as a node heals
// another: each batch encoded as a remote write and posted over loopback
// HTTP to a handler that does what a node's replica-write endpoint does
// (storeWrite: decode, append to its DB). Both ends run in this process, so
// samples/cpu-s (the process's CPU time during the passes) is the cost of
// both, which a loaded machine does not change as it does samples/s.
func BenchmarkHealHTTP(b *testing.B) {
	src, err := tsdb.Open(b.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	data := genSeries(1000, 120, time.Now().Add(-2*time.Hour).UnixMilli(), 1)
	if _, err := appendLocal(src, data); err != nil {
		b.Fatal(err)
	}
	var dst atomic.Pointer[tsdb.DB]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := storeWrite(dst.Load(), nil, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	nodes := []Meta{{ID: "a"}, {ID: "b", API: strings.TrimPrefix(srv.URL, "http://")}}
	to, _ := NewRing([]RingNode{{ID: "a"}, {ID: "b"}}, RingConfig{Replication: 2})
	from, _ := NewRing([]RingNode{{ID: "a"}}, RingConfig{Replication: 2})
	tr := NewHTTPTransport(time.Minute)
	b.ResetTimer()
	var streamed int64
	var cpu time.Duration // both ends' CPU: what a loaded machine divides
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := tsdb.Open(b.TempDir(), tsdb.Options{OutOfOrderWindow: 24 * tsdb.Hour})
		if err != nil {
			b.Fatal(err)
		}
		dst.Store(db)
		b.StartTimer()
		cpu0 := cpuTime()
		st, err := healPass(context.Background(), "a", src, Placement{Ring: from, Nodes: nodes[:1]}, Placement{Ring: to, Nodes: nodes}, tr, healOptions{}, nil)
		cpu += cpuTime() - cpu0
		if err != nil || st.Streamed != 1000 || st.Failed != 0 {
			b.Fatalf("heal: %+v %v", st, err)
		}
		streamed += st.Samples
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(streamed)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(streamed)/cpu.Seconds(), "samples/cpu-s")
}
