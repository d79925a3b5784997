package loadgen

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// TestLineText checks Line's requests against lines written out with fmt
// from the hosts' tags, the values each line carries and the round's
// timestamp, and the walk's shape: values within 0…100, each series moving
// by at most 2 per round, and moving at all.
func TestLineText(t *testing.T) {
	const writers, hosts, rounds, requests = 3, 4, 5, 4
	g := New(1, writers, hosts, rounds)
	prev := map[string]int64{}
	moved := 0
	var body []byte
	for req := range requests {
		body = g.Line(body[:0])
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(lines) != hosts*rounds {
			t.Fatalf("request %d: %d lines, want %d", req, len(lines), hosts*rounds)
		}
		for i, line := range lines {
			r, hi := i/hosts, i%hosts
			h := 1 + hi*writers
			ts := (Start + int64(req*rounds+r)*Step) * 1e6
			parts := strings.Split(line, " ")
			if len(parts) != 3 {
				t.Fatalf("line %q: %d space-separated parts", line, len(parts))
			}
			fields := strings.Split(parts[1], ",")
			if len(fields) != len(Fields) {
				t.Fatalf("line %q: %d fields", line, len(fields))
			}
			var want strings.Builder
			fmt.Fprintf(&want, "cpu")
			for _, tg := range Tags(h) {
				fmt.Fprintf(&want, ",%s=%s", tg[0], tg[1])
			}
			for f, kv := range fields {
				v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(kv, Fields[f]+"="), "i"), 10, 64)
				if err != nil || v < 0 || v > 100 {
					t.Fatalf("line %q: field %d %q: %d, %v", line, f, kv, v, err)
				}
				sep := ","
				if f == 0 {
					sep = " "
				}
				fmt.Fprintf(&want, "%s%s=%di", sep, Fields[f], v)
				id := fmt.Sprint(h, f)
				if p, ok := prev[id]; ok {
					if d := v - p; d < -2 || d > 2 {
						t.Fatalf("host %d field %d: %d after %d", h, f, v, p)
					} else if d != 0 {
						moved++
					}
				}
				prev[id] = v
			}
			fmt.Fprintf(&want, " %d", ts)
			if line != want.String() {
				t.Fatalf("line\n%s\nwant\n%s", line, want.String())
			}
		}
	}
	if steps := hosts * len(Fields) * (rounds*requests - 1); moved < steps/2 {
		t.Fatalf("the values moved %d times in %d steps", moved, steps)
	}
	if g.Seq() != requests {
		t.Fatalf("Seq %d, want %d", g.Seq(), requests)
	}
	// The same writer again makes the same bytes.
	g2 := New(1, writers, hosts, rounds)
	var again []byte
	for range requests {
		again = g2.Line(again[:0])
	}
	if !bytes.Equal(again, body) {
		t.Fatal("a second generator with the same arguments made other requests")
	}
}

// BenchmarkLine is the cost of making a request, per value.
func BenchmarkLine(b *testing.B) {
	g := New(0, 100, 10, 10)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Line(buf[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*g.PointsPerRequest()), "ns/value")
}

// TestRemote checks Remote's requests against remote.AppendWriteRequest
// (the remote package's encoder, tested against its decoder) of the same
// series and samples, taken from a second generator's walk, and that
// Snappy's bodies decompress to them.
func TestRemote(t *testing.T) {
	const writers, hosts, rounds = 2, 3, 4
	g, ref := New(1, writers, hosts, rounds), New(1, writers, hosts, rounds)
	var body, z []byte
	for req := range 3 {
		body = g.Remote(body[:0])
		series := make([]remote.Series, hosts*len(Fields))
		for r := range rounds {
			ref.step()
			ts := Start + int64(req*rounds+r)*Step
			for i := range series {
				series[i].Samples = append(series[i].Samples, model.Sample{T: ts, V: float64(ref.vals[i])})
			}
		}
		for hi, h := range ref.Hosts {
			for f := range Fields {
				series[hi*len(Fields)+f].Labels = SeriesLabels(h, f)
			}
		}
		want := remote.AppendWriteRequest(nil, series)
		if !bytes.Equal(body, want) {
			t.Fatalf("request %d: %d bytes differ from remote.AppendWriteRequest's %d", req, len(body), len(want))
		}
		z = Snappy(z[:0], body)
		got, err := remote.Decompress(nil, z, 1<<20)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("request %d: Snappy's body decompresses to %d bytes (%v), want the request's %d", req, len(got), err, len(body))
		}
	}
}

// BenchmarkRemote is the cost of making a remote write request and
// compressing it, per value.
func BenchmarkRemote(b *testing.B) {
	g := New(0, 100, 10, 10)
	var buf, z []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Remote(buf[:0])
		z = Snappy(z[:0], buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*g.PointsPerRequest()), "ns/value")
}
