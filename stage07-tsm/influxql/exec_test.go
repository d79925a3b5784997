package influxql

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// gen is the data: host h in {a, b, c}, region eu for a and b, us for c;
// field v = h*1000 + i (integer) at t = i*10 s for i < 720 (2 h), and a
// float field f = i/2 on host a only.
func open(t *testing.T) *tsm.Engine {
	e, err := tsm.Open(t.TempDir(), tsm.Options{WAL: wal.Options{Sync: wal.SyncNone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	var pts []lineprotocol.Point
	for h, host := range []string{"a", "b", "c"} {
		region := "eu"
		if host == "c" {
			region = "us"
		}
		for i := range 720 {
			line := fmt.Sprintf("cpu,host=%s,region=%s v=%di %d", host, region, h*1000+i, int64(i)*10e9)
			if host == "a" {
				line = fmt.Sprintf("cpu,host=%s,region=%s v=%di,f=%g %d", host, region, h*1000+i, float64(i)/2, int64(i)*10e9)
			}
			var p lineprotocol.Point
			if err := lineprotocol.Parse([]byte(line), &p); err != nil {
				t.Fatal(err)
			}
			pts = append(pts, p)
			pts[len(pts)-1] = clone(p)
		}
		if h == 1 { // part of the data in a file, the rest in the cache
			if err := e.WritePoints(pts); err != nil {
				t.Fatal(err)
			}
			pts = nil
			if _, err := e.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.WritePoints(pts); err != nil {
		t.Fatal(err)
	}
	return e
}

func clone(p lineprotocol.Point) lineprotocol.Point {
	q := lineprotocol.Point{Measurement: append([]byte(nil), p.Measurement...), Time: p.Time, HasTime: p.HasTime}
	for _, t := range p.Tags {
		q.Tags = append(q.Tags, lineprotocol.Tag{Key: append([]byte(nil), t.Key...), Value: append([]byte(nil), t.Value...)})
	}
	for _, f := range p.Fields {
		q.Fields = append(q.Fields, lineprotocol.Field{Key: append([]byte(nil), f.Key...), Value: f.Value})
	}
	return q
}

func TestExec(t *testing.T) {
	e := open(t)
	now := time.Unix(0, 7200e9) // the end of the data
	t.Run("raw, tag and now()-1h", func(t *testing.T) {
		r, err := Run(e, `SELECT * FROM cpu WHERE host='a' AND time > now() - 1h`, now)
		if err != nil {
			t.Fatal(err)
		}
		// i*10s > 3600s ⇔ i ≥ 361 … 719: 359 rows, 2 fields
		if len(r.Series) != 1 || len(r.Series[0].Rows) != 359 || r.Points != 718 {
			t.Fatalf("%d series, points %d", len(r.Series), r.Points)
		}
		s := r.Series[0]
		if fmt.Sprint(s.Columns) != "[time f v]" || s.Rows[0].Time != 3610e9 || s.Rows[0].Values[0] != 180.5 || s.Rows[0].Values[1] != int64(361) {
			t.Fatalf("columns %v first row %v", s.Columns, s.Rows[0])
		}
	})
	t.Run("OR of tags, RFC 3339 and integer bounds", func(t *testing.T) {
		r, err := Run(e, `SELECT v FROM cpu WHERE (host='a' OR region='us') AND time >= '1970-01-01T00:10:00Z' AND time < 1200000000000`, now)
		if err != nil {
			t.Fatal(err)
		}
		// hosts a and c, i in [60, 120): 60 values each
		if len(r.Series) != 2 || r.Points != 120 || r.Series[1].Rows[0].Values[0] != int64(2060) {
			t.Fatalf("%d series %d points %v", len(r.Series), r.Points, r.Series)
		}
	})
	t.Run("GROUP BY time", func(t *testing.T) {
		r, err := Run(e, `SELECT mean(v), min(v), max(v), sum(v), count(v) FROM cpu WHERE region='eu' GROUP BY time(1h)`, now)
		if err != nil {
			t.Fatal(err)
		}
		// hosts a (0+i) and b (1000+i); hour 0 is i in [0, 360)
		rows := r.Series[0].Rows
		if len(rows) != 2 {
			t.Fatalf("%d rows", len(rows))
		}
		var sum float64
		for i := range 360 {
			sum += float64(i) + float64(1000+i)
		}
		want := []any{sum / 720, 0.0, 1359.0, sum, int64(720)}
		if fmt.Sprint(rows[0].Values) != fmt.Sprint(want) || rows[1].Time != 3600e9 {
			t.Fatalf("row 0 %v, want %v; row 1 at %d", rows[0].Values, want, rows[1].Time)
		}
	})
	t.Run("no match", func(t *testing.T) {
		r, err := Run(e, `SELECT v FROM cpu WHERE host='zzz'`, now)
		if err != nil || len(r.Series) != 0 || r.Points != 0 {
			t.Fatalf("%v %v", r, err)
		}
		r, err = Run(e, `SELECT v FROM cpux`, now)
		if err != nil || len(r.Series) != 0 {
			t.Fatalf("%v %v", r, err)
		}
	})
	_ = math.Inf
}
