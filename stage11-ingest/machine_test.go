package main

import (
	"math"
	"testing"
	"time"
)

// TestMachineShares: the Results' split of the machine's CPU time between
// this process, the others and the hypervisor, from two /proc/stat lines.
func TestMachineShares(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	a, err := parseCPUStat("cpu  100 5 50 1000 20 3 2 10 0 0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseCPUStat("cpu  300 5 150 1500 20 3 2 110 40 0")
	if err != nil {
		t.Fatal(err)
	}
	// Between them: busy 200+100 = 300 ticks, idle 500, steal 100: 900 in
	// all. The process used 2 s, 200 ticks: the other processes 100.
	self, others, steal := machineShares(a, b, 2*time.Second)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"self", self, 200.0 / 900}, {"others", others, 100.0 / 900}, {"steal", steal, 100.0 / 900}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s: %.4f, want %.4f", c.name, c.got, c.want)
		}
	}
	// A process CPU reading above the machine's busy time (the clocks'
	// different grains) is capped at it: nothing left for the others.
	if self, others, _ := machineShares(a, b, time.Hour); math.Abs(self-300.0/900) > 1e-9 || others != 0 {
		t.Errorf("capped: self %.4f others %.4f, want %.4f and 0", self, others, 300.0/900)
	}
	for _, bad := range []string{"intr 1 2 3 4 5 6 7 8 9", "cpu 1 2 3", "cpu 1 2 3 x 5 6 7 8 9"} {
		if _, err := parseCPUStat(bad); err == nil {
			t.Errorf("parseCPUStat(%q): no error", bad)
		}
	}
}
