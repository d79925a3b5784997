package wal

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// BenchmarkCheckpoint checkpoints a log shaped like a head cut's: 1,000
// series logged in 10 series records, then 1,100 rounds of their samples
// in dense records of 1,000 (10 rounds of 100 series, as an ingestion
// batch), 10 s apart; the cut keeps the last third (t ≥ mint) and every
// series. It reports the checkpoint's CPU time per sample read (user and
// system, the process's: the checkpoint is all it does meanwhile).
func BenchmarkCheckpoint(b *testing.B) {
	const series, rounds, step = 1000, 1100, 10_000
	var samples int
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		w, err := Open(dir, Options{Sync: SyncNone})
		if err != nil {
			b.Fatal(err)
		}
		for r := range 10 {
			var ss []RefSeries
			for i := r * 100; i < (r+1)*100; i++ {
				ss = append(ss, RefSeries{Ref: uint64(i + 1), Labels: model.MustFromStrings(model.MetricName, "cpu_usage_user", "hostname", fmt.Sprintf("host_%d", i), "region", "eu-west-1", "team", "NYC")})
			}
			if err := w.Log(AppendSeries(nil, ss)); err != nil {
				b.Fatal(err)
			}
		}
		buf := make([]RefSample, 0, 1000)
		for r0 := 0; r0 < rounds; r0 += 10 {
			for g := 0; g < series; g += 100 {
				buf = buf[:0]
				for r := r0; r < r0+10; r++ {
					for i := g; i < g+100; i++ {
						buf = append(buf, RefSample{Ref: uint64(i + 1), T: int64(r) * step, V: float64(r%97 + i%13)})
					}
				}
				if err := w.Log(AppendDenseSamples(nil, buf)); err != nil {
					b.Fatal(err)
				}
			}
		}
		upto, err := w.NextSegment()
		if err != nil {
			b.Fatal(err)
		}
		samples += series * rounds
		c0 := procCPU()
		b.StartTimer()
		if _, err := w.Checkpoint(upto, func(uint64) bool { return true }, rounds*2/3*step); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += procCPU() - c0
		w.Close()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(samples), "cpu-ns/sample")
}

func procCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
