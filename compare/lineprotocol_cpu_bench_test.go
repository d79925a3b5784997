package compare

import (
	"bytes"
	"runtime"
	"slices"
	"testing"

	vminflux "github.com/VictoriaMetrics/VictoriaMetrics/lib/protoparser/influx"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage11-ingest/influx"
)

// BenchmarkLineProtocolCPU sets stage07's parser beside VictoriaMetrics'
// on the TSBS lines of BenchmarkLineProtocol, fairly on a shared machine:
// the two take turns, one pass each per round (so a burst of load from
// other jobs falls on both), on one locked OS thread, and each is timed by
// that thread's CPU time. It reports each parser's median values per
// CPU-second over the rounds, and stage07's over VictoriaMetrics'.
func BenchmarkLineProtocolCPU(b *testing.B) {
	body, values := lineBody(b)
	s := string(body)
	var rows vminflux.Rows
	if err := rows.Unmarshal(s, false); err != nil {
		b.Fatal(err)
	}
	var p lineprotocol.Point
	stage07 := func() {
		n := 0
		for rest := body; len(rest) > 0; {
			i := bytes.IndexByte(rest, '\n')
			if err := lineprotocol.Parse(rest[:i], &p); err != nil {
				b.Fatal(err)
			}
			for _, f := range p.Fields {
				if _, ok := influx.Value(f.Value); ok {
					n++
				}
			}
			rest = rest[i+1:]
		}
		if n != values {
			b.Fatalf("stage07: %d values", n)
		}
	}
	vm := func() {
		if err := rows.Unmarshal(s, false); err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, r := range rows.Rows {
			n += len(r.Fields)
		}
		if n != values {
			b.Fatalf("victoriametrics: %d values", n)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ours, theirs []float64
	for b.Loop() {
		t0 := threadCPU()
		stage07()
		t1 := threadCPU()
		vm()
		t2 := threadCPU()
		if t1 > t0 && t2 > t1 {
			ours = append(ours, float64(values)/(t1-t0).Seconds())
			theirs = append(theirs, float64(values)/(t2-t1).Seconds())
		}
	}
	if len(ours) == 0 {
		b.Skip("no thread CPU time (RUSAGE_THREAD) on this system")
	}
	median := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
	mo, mt := median(ours), median(theirs)
	b.ReportMetric(mo, "stage07-values/cpu-s")
	b.ReportMetric(mt, "vm-values/cpu-s")
	b.ReportMetric(mo/mt, "stage07/vm")
}
