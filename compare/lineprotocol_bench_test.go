package compare

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"testing"
	"time"

	vminflux "github.com/VictoriaMetrics/VictoriaMetrics/lib/protoparser/influx"
	influxlp "github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// lineBody is the first 21,600 lines (216,000 values) of TSBS's
// cpu-only file.
func lineBody(b *testing.B) ([]byte, int) {
	const lines = 21_600
	p, err := tsbs.Path("tsbs-cpu-only-100h-6h.influx.gz")
	if err != nil {
		b.Fatal(err)
	}
	fh, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		b.Fatal(err)
	}
	all, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	end := 0
	for range lines {
		end += bytes.IndexByte(all[end:], '\n') + 1
	}
	return all[:end], lines * 10
}

// BenchmarkLineProtocol parses the same TSBS lines with this workspace's
// parser (stage07, what stage11 uses), InfluxData's line-protocol/v2 and
// VictoriaMetrics' lib/protoparser/influx, each reading every field value
// as a number, on one goroutine: values/s per core. stage11 is the whole
// decoder into a pipeline write (discard sink): parsing, limits, batches.
func BenchmarkLineProtocol(b *testing.B) {
	body, values := lineBody(b)
	b.Run("parser=stage07", func(b *testing.B) {
		var p lineprotocol.Point
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
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
				b.Fatalf("%d values", n)
			}
		}
		b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("parser=influxdata-v2", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			dec := influxlp.NewDecoderWithBytes(body)
			n := 0
			for dec.Next() {
				if _, err := dec.Measurement(); err != nil {
					b.Fatal(err)
				}
				for {
					k, _, err := dec.NextTag()
					if err != nil {
						b.Fatal(err)
					}
					if k == nil {
						break
					}
				}
				for {
					k, v, err := dec.NextField()
					if err != nil {
						b.Fatal(err)
					}
					if k == nil {
						break
					}
					if v.Kind() == influxlp.Int {
						_ = float64(v.IntV())
						n++
					} else if v.Kind() == influxlp.Float {
						_ = v.FloatV()
						n++
					}
				}
				if _, err := dec.Time(influxlp.Nanosecond, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
			if n != values {
				b.Fatalf("%d values", n)
			}
		}
		b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("parser=victoriametrics", func(b *testing.B) {
		s := string(body)
		var rows vminflux.Rows
		if err := rows.Unmarshal(s, false); err != nil { // warm: its rows are reused from then on
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := rows.Unmarshal(s, false); err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, r := range rows.Rows {
				n += len(r.Fields)
			}
			if n != values {
				b.Fatalf("%d values", n)
			}
		}
		b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("decoder=stage11", func(b *testing.B) {
		p, err := ingest.New(ingest.Discard{}, ingest.Options{Flushers: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		var d influx.Decoder
		for range 20 { // warm every receiver's batch to the body's size
			w, _ := p.Begin(context.Background(), ingest.Block)
			d.Decode(w, body, influx.Nanosecond, 0)
			w.Commit(context.Background())
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			w, err := p.Begin(context.Background(), ingest.Block)
			if err != nil {
				b.Fatal(err)
			}
			st := d.Decode(w, body, influx.Nanosecond, 0)
			if _, err := w.Commit(context.Background()); err != nil || st.Values != values {
				b.Fatalf("%d values, %v", st.Values, err)
			}
		}
		b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
}
