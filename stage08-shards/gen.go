package main

import (
	"fmt"
	"math"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

// fieldNames are TSBS's cpu fields: one series per host and field.
var fieldNames = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

// workload is the generated data: hosts × 10 fields of cpu, one sample
// every interval from start to end (ms), values a bounded random walk
// from a fixed seed (a hash of host, field and step), so every run and the
// oracle store see the same numbers.
type workload struct {
	hosts      int
	start, end int64
	every      int64
	lsets      []model.Labels
}

func newWorkload(hosts int, start, end time.Time, every time.Duration) *workload {
	w := &workload{hosts: hosts, start: start.UnixMilli(), end: end.UnixMilli(), every: every.Milliseconds()}
	regions := []string{"us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"}
	for h := range hosts {
		for _, f := range fieldNames {
			w.lsets = append(w.lsets, model.MustFromStrings(model.MetricName, "cpu", shard.FieldLabel, f,
				"hostname", fmt.Sprintf("host_%d", h), "region", regions[h%len(regions)]))
		}
	}
	return w
}

func (w *workload) steps() int64 { return (w.end - w.start + w.every - 1) / w.every }
func (w *workload) total() int64 { return w.steps() * int64(len(w.lsets)) }

func mix(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

// batches calls fn with one batch per `per` steps, every series in it;
// the batch's memory is reused.
func (w *workload) batches(per int, fn func([]shard.Series) error) error {
	cur := make([]float64, len(w.lsets))
	for i := range cur {
		cur[i] = float64(mix(uint64(i), 7) % 100)
	}
	batch := make([]shard.Series, len(w.lsets))
	for i := range batch {
		batch[i].Labels = w.lsets[i]
	}
	step := int64(0)
	for t0 := w.start; t0 < w.end; t0 += int64(per) * w.every {
		for i := range batch {
			batch[i].Samples = batch[i].Samples[:0]
		}
		for t := t0; t < w.end && t < t0+int64(per)*w.every; t += w.every {
			for i := range batch {
				d := float64(int64(mix(uint64(i), uint64(step))%21)-10) / 10
				cur[i] = math.Round(math.Min(100, math.Max(0, cur[i]+d))*10) / 10
				batch[i].Samples = append(batch[i].Samples, model.Sample{T: t, V: cur[i]})
			}
			step++
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
	return nil
}
