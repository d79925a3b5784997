package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	influxlp "github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// telegrafInput is what Telegraf's file input reads besides its own
// measurements: names and tag values with escaped spaces and commas, every
// field type (the string field is skipped by the server, counted), fixed
// timestamps.
const telegrafInput = `weather\ station,city=New\ York,zone=a\,b temp=21.5,count=3i,big=7u,ok=true,note="x y, \"z\"" 1700000000000000000
weather\ station,city=Paris,zone=c temp=-1.25e1,count=-4i,ok=false 1700000001000000000
disk-io,dev=sda1 reads=12i,busy=0.25 1700000002000000000
`

// TestTelegraf runs a real Telegraf (a build of v1.37.2 with only the
// plugins it needs, made by `.ci/build-tools telegraf`) with the
// repository's telegraf.conf pointed at a server on a free port: the
// config's influxdb_v2 output (gzip bodies to /api/v2/write) carries
// Telegraf's own cpu and mem measurements, its v1 influxdb output
// (uncommented; /write) the lines of a file input. Telegraf's file output
// records the same metrics in line protocol: parsed by InfluxData's parser,
// that record is what the sink must hold, series by series, value by value,
// after the server is closed and the directory reopened.
//
// The build takes minutes, so CI does not make it: without a cached
// binary the test skips.
func TestTelegraf(t *testing.T) {
	if testing.Short() {
		t.Skip("a real Telegraf: not in -short")
	}
	out, err := exec.Command("bash", filepath.Join("..", ".ci", "build-tools"), "--cached", "telegraf").Output()
	if err != nil {
		t.Skip("no Telegraf in the tools cache: build it once with `.ci/build-tools telegraf` (a few minutes) to run this test")
	}
	bin := strings.TrimSpace(string(out))

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s, err := startServer(serverOpts{listen: "127.0.0.1", grpcPort: -1, dataDir: data, sink: "blocks", bp: ingest.Block},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()

	input, record := filepath.Join(dir, "input.lp"), filepath.Join(dir, "record.lp")
	if err := os.WriteFile(input, []byte(telegrafInput), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := telegrafConf(t, "http://"+s.Addr(), input, record)
	confPath := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	// --once: one gather, one flush of every output, exit. The context
	// kills it (its PID) if it hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", confPath, "--once")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("telegraf: %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "E! ") {
		t.Fatalf("telegraf logged errors:\n%s", log.String())
	}

	want, strs := expectedSeries(t, record)
	if len(want) < 10 {
		t.Fatalf("Telegraf's record holds only %d series:\n%s", len(want), log.String())
	}
	for _, name := range []string{`weather_station_temp{city="New York",host=`, `weather_station_ok{city="Paris",host=`, `disk_io_reads{dev="sda1",host=`, `mem_total{host=`} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(want)), func(s string) bool { return strings.HasPrefix(s, name) }) {
			t.Fatalf("Telegraf's record lacks %s…: %v", name, slices.Sorted(maps.Keys(want)))
		}
	}
	resp, err := http.Get("http://" + s.Addr() + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(stats), fmt.Sprintf("string_fields_skipped %d\n", strs)) {
		t.Errorf("the record has %d string fields; the server's stats:\n%s", strs, stats)
	}

	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := storedSeries(t, data)
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s", k)
		case !slices.Equal(g, v):
			t.Errorf("%s: stored %v, Telegraf sent %v", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("stored %s, which Telegraf did not send", k)
		}
	}
	t.Logf("%d series from Telegraf (influxdb_v2 with gzip, and influxdb v1) stored as sent", len(want))
}

// telegrafConf is the repository's telegraf.conf with its URLs pointed at
// base, the v1 output uncommented, the measurements split between the two
// outputs, and the file input and output added.
func telegrafConf(t *testing.T, base, input, record string) string {
	b, err := os.ReadFile("telegraf.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(conf, old) {
			t.Fatalf("telegraf.conf lacks %q", old)
		}
		conf = strings.ReplaceAll(conf, old, new)
	}
	replace(`"http://127.0.0.1:9090"`, `"`+base+`"`)
	// Uncomment the v1 output: the lines after its heading, "# " removed.
	const v1 = "## The same through InfluxDB v1's /write:\n"
	i := strings.Index(conf, v1)
	if i < 0 {
		t.Fatalf("telegraf.conf lacks %q", v1)
	}
	head, tail := conf[:i+len(v1)], conf[i+len(v1):]
	var lines []string
	for l := range strings.Lines(tail) {
		lines = append(lines, strings.TrimPrefix(l, "# "))
	}
	conf = head + strings.Join(lines, "")
	replace("[[outputs.influxdb_v2]]\n", "[[outputs.influxdb_v2]]\n  namedrop = [\"weather*\", \"disk-io\"]\n")
	replace("[[outputs.influxdb]]\n", "[[outputs.influxdb]]\n  namepass = [\"weather*\", \"disk-io\"]\n")
	return conf + fmt.Sprintf(`
[[inputs.file]]
  files = [%q]
  data_format = "influx"

[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, input, record)
}

// expectedSeries reads Telegraf's record with InfluxData's parser and maps
// it as the server should: one series per numeric field, named
// <measurement>_<field> with every byte outside [A-Za-z0-9_:] made '_',
// the tags as labels, the value a float (booleans 1 and 0), the time in
// ms. It also counts the string fields.
func expectedSeries(t *testing.T, path string) (map[string][]sample, int) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clean := func(s []byte) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r == ':' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
				return r
			}
			return '_'
		}, string(s))
	}
	out := map[string][]sample{}
	strs := 0
	dec := influxlp.NewDecoderWithBytes(b)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			t.Fatal(err)
		}
		tags := map[string]string{}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatal(err)
			}
			if k == nil {
				break
			}
			tags[clean(k)] = string(v)
		}
		type fv struct {
			k string
			v float64
		}
		var fields []fv
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatal(err)
			}
			if k == nil {
				break
			}
			switch v.Kind() {
			case influxlp.Float:
				fields = append(fields, fv{string(k), v.FloatV()})
			case influxlp.Int:
				fields = append(fields, fv{string(k), float64(v.IntV())})
			case influxlp.Uint:
				fields = append(fields, fv{string(k), float64(v.UintV())})
			case influxlp.Bool:
				f := 0.0
				if v.BoolV() {
					f = 1
				}
				fields = append(fields, fv{string(k), f})
			case influxlp.String:
				strs++
			}
		}
		ts, err := dec.Time(influxlp.Nanosecond, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			key := seriesString(clean(m)+"_"+clean([]byte(f.k)), tags)
			out[key] = append(out[key], sample{ts.UnixMilli(), f.v})
		}
	}
	if err := dec.Err(); err != nil {
		t.Fatal(err)
	}
	return out, strs
}

type sample struct {
	t int64
	v float64
}

// seriesString is name{k="v",…} with the labels sorted.
func seriesString(name string, labels map[string]string) string {
	var sb strings.Builder
	sb.WriteString(name + "{")
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s=%q", k, labels[k])
	}
	sb.WriteByte('}')
	return sb.String()
}

// storedSeries reopens the sink's directory with stage06 and reads every
// series.
func storedSeries(t *testing.T, data string) map[string][]sample {
	db, err := tsdb.Open(data, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string][]sample{}
	ss := q.Select()
	for ss.Next() {
		s := ss.At()
		labels := s.Labels().Map()
		name := labels["__name__"]
		delete(labels, "__name__")
		key := seriesString(name, labels)
		it := s.Iterator(nil)
		for it.Next() {
			ts, v := it.At()
			out[key] = append(out[key], sample{ts, v})
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
