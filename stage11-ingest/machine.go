package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// On a virtual machine the hypervisor may run other guests on the cores
// this one counts as its own: the kernel reports that time as steal, and a
// bench whose p99 moves tenfold from one run to the next is often watching
// it (30 s runs at the same rate: p99 8.9 ms with 1.7 % of the CPUs' time
// stolen, 28 and 56 ms with 15 % and 14 %). The Results say what share of
// the machine's CPU time the process, the other processes and the
// hypervisor took, so a run can be judged by it.

// clockTicks is the unit of /proc/stat: USER_HZ, 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

// cpuStat is the machine's CPU time from /proc/stat's first line, in
// clock ticks: busy (user, nice, system, irq, softirq; guest time is
// counted in user already), idle (idle, iowait) and steal.
type cpuStat struct {
	busy, idle, steal uint64
}

// parseCPUStat reads the "cpu " line of /proc/stat: user nice system idle
// iowait irq softirq steal guest guest_nice.
func parseCPUStat(line string) (cpuStat, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuStat{}, fmt.Errorf("not /proc/stat's cpu line: %q", line)
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return cpuStat{}, fmt.Errorf("/proc/stat cpu field %d: %w", i+1, err)
		}
		v[i] = n
	}
	return cpuStat{busy: v[0] + v[1] + v[2] + v[5] + v[6], idle: v[3] + v[4], steal: v[7]}, nil
}

// readCPUStat reads the machine's CPU time; false where there is no
// /proc/stat (not Linux).
func readCPUStat() (cpuStat, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuStat{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuStat{}, false
	}
	s, err := parseCPUStat(sc.Text())
	return s, err == nil
}

// machineShares splits the machine's CPU time between two readings into
// this process's (own, measured by getrusage), the other processes' and
// the hypervisor's, as fractions of the whole.
func machineShares(a, b cpuStat, own time.Duration) (self, others, steal float64) {
	busy, idle, st := float64(b.busy-a.busy), float64(b.idle-a.idle), float64(b.steal-a.steal)
	total := busy + idle + st
	if total <= 0 {
		return 0, 0, 0
	}
	mine := min(own.Seconds()*clockTicks, busy)
	return mine / total, (busy - mine) / total, st / total
}
