package main

import "testing"

// TestProcsFor: the programs run twice the default Ps, unless the operator
// set GOMAXPROCS.
func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		env         string
		procs, want int
	}{
		{"", 2, 4},
		{"", 1, 2},
		{"", 16, 32},
		{"2", 2, 2},
		{"3", 3, 3},
	} {
		if got := procsFor(c.env, c.procs); got != c.want {
			t.Errorf("procsFor(%q, %d) = %d, want %d", c.env, c.procs, got, c.want)
		}
	}
	if o := sinkOptions(); o.CompactionWorkers != 1 || !o.HeadCutKeepsEncoding {
		t.Errorf("sinkOptions: CompactionWorkers %d, HeadCutKeepsEncoding %v; want 1 and true (background work leaves the cores to the writes)", o.CompactionWorkers, o.HeadCutKeepsEncoding)
	}
}
