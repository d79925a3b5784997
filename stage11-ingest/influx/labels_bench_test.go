package influx

import (
	"fmt"
	"testing"

	"github.com/tsdb-course/stage11-ingest/ingest"
)

// BenchmarkSeriesLabels is the label sets of a new TSBS cpu line's ten
// series, as a sink creating them builds them: the key parsed for each
// field (Format.Labels), or once for the row (RowFormat.Row).
func BenchmarkSeriesLabels(b *testing.B) {
	key := []byte("cpu,hostname=host_0,region=eu-west-1,datacenter=eu-west-1a,rack=6,os=Ubuntu16.10,arch=x86,team=SF,service=19,service_version=1,service_environment=test")
	var fields [10][]byte
	for i := range fields {
		fields[i] = fmt.Appendf(nil, "usage_%d", i)
	}
	b.Run("per-series", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range fields {
				if _, err := Format.Labels(key, f); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fields)), "ns/series")
	})
	b.Run("per-row", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := Format.(ingest.RowFormat).Row(key)
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range fields {
				if _, err := r.Labels(f); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fields)), "ns/series")
	})
}
