package main

import (
	"context"
	"testing"
	"time"
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
