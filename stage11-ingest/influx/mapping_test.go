package influx

import (
	"testing"

	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// TestLabelNames holds the mapping's names to its rule: every byte outside
// [A-Za-z0-9_:] becomes '_', a leading digit gets a '_' in front, the name
// is <measurement>_<field>, tag values stay as they are; and the three
// ways of building a series' labels (Labels of a parsed point,
// Format.Labels of a key, a RowFormat's row) agree.
func TestLabelNames(t *testing.T) {
	for _, tc := range []struct{ key, field, want string }{
		{`cpu,host=a,cpu-id=3`, "usage_idle", `cpu_usage_idle{cpu_id="3",host="a"}`},
		{`2xx.rate,1zone=eu-1`, "p99.9", `_2xx_rate_p99_9{_1zone="eu-1"}`},
		{`m`, "9lives", `m__9lives`},
		{`disk:io,dev=sda\ 1`, "r/s", `disk:io_r_s{dev="sda 1"}`},
	} {
		var p lineprotocol.Point
		if err := lineprotocol.ParseKey([]byte(tc.key), &p); err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		viaPoint, err := Labels(&p, []byte(tc.field))
		if err != nil || viaPoint.String() != tc.want {
			t.Errorf("Labels(%s, %s) = %s, %v; want %s", tc.key, tc.field, viaPoint, err, tc.want)
		}
		viaKey, err := Format.Labels([]byte(tc.key), []byte(tc.field))
		if err != nil || !viaKey.Equal(viaPoint) {
			t.Errorf("Format.Labels(%s, %s) = %s, %v; want %s", tc.key, tc.field, viaKey, err, viaPoint)
		}
		row, err := Format.(ingest.RowFormat).Row([]byte(tc.key))
		if err != nil {
			t.Fatalf("Row(%s): %v", tc.key, err)
		}
		for range 2 { // a row builds each of its series alike, again and again
			viaRow, err := row.Labels([]byte(tc.field))
			if err != nil || !viaRow.Equal(viaPoint) {
				t.Errorf("Row(%s).Labels(%s) = %s, %v; want %s", tc.key, tc.field, viaRow, err, viaPoint)
			}
		}
	}
	if _, err := Format.(ingest.RowFormat).Row([]byte("cpu,host")); err == nil {
		t.Error("Row of a tag without a value: no error")
	}
}
