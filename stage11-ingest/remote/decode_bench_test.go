package remote

import (
	"fmt"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// BenchmarkDecode: a 2,000-sample request as the load generator sends it
// (one sample per series, five labels), decoded without the snappy step.
func BenchmarkDecode(b *testing.B) {
	series := make([]Series, 2000)
	for i := range series {
		series[i] = Series{
			Labels: model.MustFromStrings("__name__", "node_cpu_seconds_total", "cpu", fmt.Sprint(i%10),
				"instance", fmt.Sprintf("host-%04d:9100", i/10), "job", "node", "datacenter", fmt.Sprint("dc-", i%4)),
			Samples: []model.Sample{{T: 1_704_067_200_000 + int64(i), V: float64(i)}},
		}
	}
	buf := AppendWriteRequest(nil, series)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		n := 0
		if _, err := d.Decode(buf, func(ts *TimeSeries) error { n += len(ts.Samples); return nil }, nil); err != nil {
			b.Fatal(err)
		}
		if n != len(series) {
			b.Fatalf("%d samples decoded, want %d", n, len(series))
		}
	}
	b.ReportMetric(float64(len(series))*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}
