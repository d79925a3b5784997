package influx

import (
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

func TestInflux(t *testing.T) {
	in := `cpu,hostname=host_1,region=eu-west usage_user=58i,usage_idle=2.5,ok=true,note="x" 1704067200000000000
cpu,hostname=host_1,region=eu-west usage_user=59i,usage_idle=3,ok=false 1704067210000000000
disk.io,9dev=sda reads=7u
`
	type got struct {
		lset string
		t    int64
		v    float64
	}
	var out []got
	c := NewConverter()
	d := lineprotocol.NewDecoder(strings.NewReader(in))
	var p lineprotocol.Point
	skipped := 0
	for d.Next(&p) {
		n, err := c.Convert(&p, 42, func(l model.Labels, t int64, v float64) error {
			out = append(out, got{l.String(), t, v})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		skipped += n
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	host := `hostname="host_1",region="eu-west"}`
	want := []got{
		{`cpu_usage_user{` + host, 1704067200000, 58},
		{`cpu_usage_idle{` + host, 1704067200000, 2.5},
		{`cpu_ok{` + host, 1704067200000, 1},
		{`cpu_usage_user{` + host, 1704067210000, 59},
		{`cpu_usage_idle{` + host, 1704067210000, 3},
		{`cpu_ok{` + host, 1704067210000, 0},
		{`disk_io_reads{_9dev="sda"}`, 42, 7},
	}
	if len(out) != len(want) || skipped != 1 {
		t.Fatalf("got %d samples (skipped %d): %v", len(out), skipped, out)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, out[i], want[i])
		}
	}
}
