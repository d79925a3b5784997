package main

import (
	"context"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/loadgen"
)

// TestBenchRate: with --rate, writers send on a schedule, so however fast
// the machine, no more than the rate's worth of values (plus the
// requests due at the start) is sent; a slow machine sends fewer, never
// more. Without the pacing, the in-process pipeline into discard sends
// thousands of requests in the same time.
func TestBenchRate(t *testing.T) {
	o := benchOpts{writers: 2, duration: 300 * time.Millisecond, protocol: "line", transport: "inproc", sink: "discard",
		hosts: 10, rounds: 10, rate: 20_000}
	res, err := runBench(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	perRequest := int64(o.hosts * o.rounds * 10)
	limit := int64(o.rate*o.duration.Seconds()) + int64(o.writers)*perRequest
	if res.points == 0 || res.points > limit {
		t.Fatalf("%d values sent at --rate %.0f for %s, want 1 to %d", res.points, o.rate, o.duration, limit)
	}
	if res.sent.total() != res.requests || res.lat.total() != res.requests {
		t.Fatalf("%d requests, %d latencies from due, %d from sending", res.requests, res.lat.total(), res.sent.total())
	}
}

// TestBenchPrebuilt: with --samples the requests are made before the run,
// yet each writer's timestamps still advance request by request: every
// value is sent once, and stage06 (which refuses a timestamp a series
// already has, or an older one) stores every one of them, each series
// holding consecutive timestamps.
func TestBenchPrebuilt(t *testing.T) {
	for _, protocol := range []string{"line", "remote"} {
		t.Run(protocol, func(t *testing.T) {
			dir := t.TempDir()
			o := benchOpts{writers: 3, duration: time.Minute, protocol: protocol, transport: "http", sink: "blocks", dataDir: dir,
				hosts: 2, rounds: 5, samples: 5_000, noCompaction: true}
			res, err := runBench(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			// 5,000 values in 100-value requests over 3 writers: 17 each.
			const perWriter = 17
			if want := int64(o.writers * perWriter * o.hosts * o.rounds * 10); res.points != want || res.built != want || res.failed != 0 {
				t.Fatalf("%d values sent, %d built, %d failed requests; want %d sent and built, none failed (first error %v)", res.points, res.built, res.failed, want, res.firstErr)
			}
			db, err := tsdb.Open(dir, tsdb.Options{NoBackgroundCompaction: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			q, err := db.Querier(0, 1<<62)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			series := 0
			ss := q.Select()
			for ss.Next() {
				series++
				var ts []int64
				it := ss.At().Iterator(nil)
				for it.Next() {
					t, _ := it.At()
					ts = append(ts, t)
				}
				if len(ts) != perWriter*o.rounds {
					t.Fatalf("%s: %d samples, want %d", ss.At().Labels(), len(ts), perWriter*o.rounds)
				}
				for i, x := range ts {
					if x != loadgen.Start+int64(i)*loadgen.Step {
						t.Fatalf("%s: sample %d at %d, want %d", ss.At().Labels(), i, x, loadgen.Start+int64(i)*loadgen.Step)
					}
				}
			}
			if err := ss.Err(); err != nil {
				t.Fatal(err)
			}
			if want := o.writers * o.hosts * 10; series != want {
				t.Fatalf("%d series stored, want %d", series, want)
			}
		})
	}
}
