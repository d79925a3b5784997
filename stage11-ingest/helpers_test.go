package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/loadgen"
)

// tsbsLines returns up to n lines of TSBS's cpu-only file when the
// repository has it (testdata/ at the root, or ../shared/data beside it),
// else n lines of the same shape from loadgen.
func tsbsLines(t testing.TB, n int) ([][]byte, string) {
	wd, _ := os.Getwd()
	for _, p := range []string{filepath.Join(wd, "..", "testdata"), filepath.Join(wd, "..", "..", "shared", "data")} {
		fh, err := os.Open(filepath.Join(p, "tsbs-cpu-only-100h-6h.influx.gz"))
		if err != nil {
			continue
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
		return out, "the TSBS cpu-only file"
	}
	g := loadgen.New(0, 1, 1000, 1)
	var out [][]byte
	for len(out) < n {
		body := g.Line(nil)
		for len(body) > 0 {
			i := bytes.IndexByte(body, '\n')
			out = append(out, body[:i])
			body = body[i+1:]
		}
	}
	return out[:n], "loadgen's TSBS-shaped lines (the TSBS file is not in the repository)"
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
