package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"os"
	"testing"

	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// tsbsLines returns up to n lines of TSBS's cpu-only file
// (testdata/tsbs at the repository's root).
func tsbsLines(t testing.TB, n int) [][]byte {
	p, err := tsbs.Path("tsbs-cpu-only-100h-6h.influx.gz")
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(zr)
	for sc.Scan() && len(out) < n {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// bodies joins lines into request bodies of per lines each.
func bodies(lines [][]byte, per int) [][]byte {
	var out [][]byte
	for i := 0; i < len(lines); i += per {
		var b []byte
		for _, l := range lines[i:min(i+per, len(lines))] {
			b = append(b, l...)
			b = append(b, '\n')
		}
		out = append(out, b)
	}
	return out
}

// writeBodies writes each body as one pipeline write, through the
// line-protocol decoder, and returns the values added.
func writeBodies(t testing.TB, p *ingest.Pipeline, d *influx.Decoder, bs [][]byte) int {
	n := 0
	for _, b := range bs {
		w, err := p.Begin(context.Background(), ingest.Block)
		if err != nil {
			t.Fatal(err)
		}
		st := d.Decode(w, b, influx.Nanosecond, 0)
		if st.Bad > 0 {
			t.Fatalf("bad lines: %v", st.Errors)
		}
		if _, err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		n += st.Values
	}
	return n
}
