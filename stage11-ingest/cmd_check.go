package main

import (
	"slices"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
)

// check refuses a bench's settings before anything is printed or
// opened, so that a mistyped value is a usage error (exit 2), not a
// header naming a run that never happens.
func (o *benchOpts) check() error {
	for _, f := range []struct {
		name, v string
		want    []string
	}{
		{"protocol", o.protocol, []string{"line", "remote", "otlp"}},
		{"transport", o.transport, []string{"http", "tcp", "inproc"}},
		{"sink", o.sink, []string{"blocks", "memory", "discard"}},
		{"queue", o.queue, []string{"ring", "chan"}},
	} {
		if !slices.Contains(f.want, f.v) {
			n := len(f.want)
			return cli.Usagef("--%s %q: want %s or %s", f.name, f.v, strings.Join(f.want[:n-1], ", "), f.want[n-1])
		}
	}
	switch {
	case o.transport == "tcp" && o.protocol != "line":
		return cli.Usagef("--transport tcp carries line protocol only")
	case o.writers < 1 || o.hosts < 1 || o.rounds < 1 || o.duration <= 0:
		return cli.Usagef("--writers, --hosts, --rounds and --duration must be positive")
	case o.flushers < 0 || o.samples < 0 || o.rate < 0:
		return cli.Usagef("--flushers, --samples and --rate must not be negative")
	}
	return nil
}

const benchSynopsis = `[flags]

--writers writers send requests, each waiting for its answer (or, with
--rate, on a schedule), to a server in the same process: over loopback HTTP
or TCP, or calling its handlers (inproc). A request holds
hosts × rounds × 10 values of TSBS's cpu-only shape. Progress every second,
then the Results block: points, throughput and CPU-seconds per million
values (the load generator's CPU included), latency p50/p99/p99.9 and a
histogram, batches, heap in use, GC pauses, back-pressure.
`
