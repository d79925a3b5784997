package lineprotocol

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"

	"github.com/tsdb-course/stage02-delta/tsbs"
)

// BenchmarkParseTSBS parses the cpu-only file from memory (decompressed
// first, so gzip is not measured).
func BenchmarkParseTSBS(b *testing.B) {
	fh, err := os.Open(tsbsPath(b, tsbs.CPUOnly))
	if err != nil {
		b.Fatal(err)
	}
	zr, _ := gzip.NewReader(fh)
	data, err := io.ReadAll(zr)
	fh.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	fields := 0
	for range b.N {
		d := NewDecoder(bytes.NewReader(data))
		var p Point
		fields = 0
		for d.Next(&p) {
			fields += len(p.Fields)
		}
		if d.Err() != nil || fields != 2_160_000 {
			b.Fatalf("fields %d err %v", fields, d.Err())
		}
	}
	b.ReportMetric(float64(fields)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}
