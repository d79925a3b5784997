package influx

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/loadgen"
)

// BenchmarkDecode is the HTTP handlers' parse: TSBS requests (1,000 values:
// ten hosts, ten rounds) decoded into pipeline writes, every series key
// known (the listeners' KeySet), each write aborted once decoded (its
// points added to the batch, then dropped: no flush measured). ns/value
// is what a value costs from the body to its batch.
func BenchmarkDecode(b *testing.B) {
	p, err := ingest.New(ingest.Discard{}, ingest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	g := loadgen.New(0, 100, 10, 10)
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = g.Line(nil)
	}
	d := &Decoder{Keys: NewKeySet(1 << 16)}
	ctx := context.Background()
	values := 0
	decode := func(body []byte) {
		w, err := p.Begin(ctx, ingest.Block)
		if err != nil {
			b.Fatal(err)
		}
		st := d.Decode(w, body, Nanosecond, 0)
		if st.Bad > 0 || st.Values != g.PointsPerRequest() {
			b.Fatalf("decoded %+v", st)
		}
		w.Abort() // the points were added: what is measured is done
		values += st.Values
	}
	decode(bodies[0]) // the keys are known from here on
	values = 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		decode(bodies[i%len(bodies)])
		i++
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(values), "ns/value")
	// The process's CPU time per value: other jobs on a shared machine
	// stretch the wall clock, much less this.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(values), "cpu-ns/value")
}

// cpuTime is the process's CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
