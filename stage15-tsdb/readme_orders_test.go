package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/server"
)

// tsbsHost0 writes the lines of host_0 from the repository's TSBS file (six
// hours of 2024, every 10 s: 2,160 lines of 10 fields) to dir and returns
// the file and its line count: the README's import, at a hundredth of the
// size, still spanning enough to be cut into blocks.
func tsbsHost0(t *testing.T, dir string) (string, int) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "tsbs", "tsbs-cpu-only-100h-6h.influx.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "cpu,hostname=host_0,") {
			b.WriteString(sc.Text())
			b.WriteByte('\n')
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "host0.influx")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, n
}

// TestReadmeExamplesAnyOrder runs the README's data examples on the
// default configuration (the admin API on, for `compact`) in every order of
// the three writes, with a compaction after each: the TSBS import (2024),
// the curl /write of December 2023, and the CLI's writes (December 2023
// and "now", memory_usage of "now" being a series the curl example writes
// in 2023). Every step must succeed (2xx, exit 0) and, at the end, every
// sample written must be queryable and the block list clean. Before the
// out-of-order window's default, the 2023 writes after a compacted import
// were refused as out of bounds and the 2023 write after "now" as out of
// order.
func TestReadmeExamplesAnyOrder(t *testing.T) {
	importFile, lines := tsbsHost0(t, t.TempDir())
	type step struct {
		name string
		run  func(t *testing.T, addr string)
	}
	cliStep := func(args ...string) func(t *testing.T, addr string) {
		return func(t *testing.T, addr string) {
			t.Helper()
			out, errOut, code := runCLI(t, append(args, "--addr", addr)...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s%s", args, code, out, errOut)
			}
		}
	}
	steps := []step{
		{"import", cliStep("import", "--file", importFile)},
		{"curl", func(t *testing.T, addr string) {
			body := "cpu_usage{host=\"server1\",region=\"us-east\"} 0.75 1703001600\n" +
				"cpu_usage{host=\"server1\",region=\"us-east\"} 0.82 1703001610\n" +
				"memory_usage{host=\"server1\"} 0.45 1703001600"
			resp, err := http.Post("http://"+addr+"/write", "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("curl /write: %d", resp.StatusCode)
			}
		}},
		{"write", func(t *testing.T, addr string) {
			cliStep("write", `cpu_usage{host="server1"} 0.75 1703001600`, `disk_usage{host="server1"} 0.45`)(t, addr)
			cliStep("write", `memory_usage{host="server1"} 0.45`)(t, addr)
		}},
	}
	compact := cliStep("compact", "--poll", "20ms")
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range orders {
		var names []string
		for _, i := range order {
			names = append(names, steps[i].name)
		}
		t.Run(strings.Join(names, ","), func(t *testing.T) {
			s, c := inProcess(t, t.TempDir(), "")
			addr := s.Addr()
			start := time.Now()
			for _, i := range order {
				steps[i].run(t, addr)
				compact(t, addr)
			}
			ctx := context.Background()
			one := func(q string, at time.Time, want float64) {
				t.Helper()
				res, err := c.Query(ctx, q, at)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if len(res.Vector) != 1 || res.Vector[0].V != want {
					t.Fatalf("%s at %s: %+v, want one sample %v", q, at, res.Vector, want)
				}
			}
			dec2023 := time.Unix(1703001600, 0)
			one(`memory_usage{host="server1"}`, dec2023, 0.45)
			one(`cpu_usage{host="server1",region="us-east"}`, dec2023.Add(10*time.Second), 0.82)
			one(`cpu_usage{host="server1",region=""}`, dec2023, 0.75)
			one(`count(rate(cpu_usage[5m]))`, time.Unix(1703001800, 0), 1) // the series with two samples
			one(`memory_usage{host="server1"}`, time.Time{}, 0.45)         // now
			one(`disk_usage{host="server1"}`, time.Time{}, 0.45)
			end := time.Unix(0, 1704067200000000000).Add(6 * time.Hour)
			one(`count_over_time(cpu_usage_user{hostname="host_0"}[7h])`, end, float64(lines))
			checkBlocksClean(t, c)
			t.Logf("%s: %s", strings.Join(names, ","), time.Since(start).Round(time.Millisecond))
		})
	}
}

// checkBlocksClean fails if two of the server's blocks overlap.
func checkBlocksClean(t *testing.T, c *client.Client) {
	t.Helper()
	bs, err := c.Blocks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs.Blocks) == 0 {
		t.Fatal("no blocks: the test must compact")
	}
	for i := 1; i < len(bs.Blocks); i++ {
		if p, b := bs.Blocks[i-1], bs.Blocks[i]; b.MinTime < p.MaxTime {
			t.Fatalf("blocks overlap: %s [%d,%d) and %s [%d,%d)", p.ULID, p.MinTime, p.MaxTime, b.ULID, b.MinTime, b.MaxTime)
		}
	}
}

// TestOutOfOrderDefaults: the default window still leaves the future grace
// refusing samples too far ahead, and a window of 0 (Prometheus's default)
// refuses the README's 2023 write after "now" as out of order.
func TestOutOfOrderDefaults(t *testing.T) {
	post := func(t *testing.T, addr, body string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/write", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("default", func(t *testing.T) {
		if got := config.Default().Write.OutOfOrderWindow; got.String() != "100y" {
			t.Fatalf("default window %s", got)
		}
		s, _ := inProcess(t, t.TempDir(), "")
		future := time.Now().Add(time.Hour).Unix()
		if code, body := post(t, s.Addr(), fmt.Sprintf("memory_usage{host=\"server1\"} 0.45 %d", future)); code != 400 || !strings.Contains(body, "sample too far in the future") {
			t.Fatalf("a sample an hour ahead: %d %s", code, body)
		}
	})
	t.Run("window=0", func(t *testing.T) {
		cfg := config.Default()
		cfg.Listen, cfg.DataDir, cfg.Web.EnableAdminAPI = "127.0.0.1:0", t.TempDir(), true
		cfg.Write.OutOfOrderWindow = 0
		s, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if code, body := post(t, s.Addr(), `memory_usage{host="server1"} 0.45`); code/100 != 2 {
			t.Fatalf("now: %d %s", code, body)
		}
		if code, body := post(t, s.Addr(), `memory_usage{host="server1"} 0.45 1703001600`); code != 400 || !strings.Contains(body, "out of order sample") {
			t.Fatalf("2023 after now: %d %s", code, body)
		}
	})
}
