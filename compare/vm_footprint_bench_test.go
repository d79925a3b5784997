package compare

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage02-delta/gen"
	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	promgen "github.com/tsdb-course/stage10-promql/gen"
)

// BenchmarkFootprintVsVictoriaMetrics: the disk the same samples take in
// this course's compacted blocks (stage06, in this process) and in a
// single-node VictoriaMetrics (built from the module proxy by
// .ci/build-tools; the benchmark skips when the binary is not cached), per
// data shape, measured in the same minutes. Disk is allocated bytes (du).
//
// Ours: the samples are appended in scrape order (every series at each
// tick, one commit per tick), the head is cut every hour of data as a
// server's background loop would (Compact), then flushed, and all blocks
// are merged into one (CompactBlocks: cold chunks). Reported:
// blocks-B/sample (the merged block: chunks, index, meta, tombstones).
// VictoriaMetrics: a fresh process gets the same samples through
// /api/v1/import/prometheus, then /internal/force_flush and
// /internal/force_merge, waits until no merge runs, and stops; vm-B/sample
// is its data/ and indexdb/ (what holds samples and series),
// vm-dir-B/sample the whole -storageDataPath (caches included).
//
// The shapes: TSBS cpu-only (6 h) and devops (2 h; blocks of 1 h so that
// there is something to merge), counters as stage06's BenchmarkFootprint
// (15 s scrapes, integer increments in [0, 100), 24 h; TSDB_FOOTPRINT_SERIES
// series, default 2,000) and gauges (stage02's generator, a 3-decimal
// random walk at 10 s, 24 h; a fifth as many series), and http-counters:
// the http_requests_total counters of BenchmarkHTTPRangeVsVictoriaMetrics
// (stage10's gen.Benchmark: each series' increments follow its own rate,
// 15 s scrapes, 24 h; as many series as the counters shape).
func BenchmarkFootprintVsVictoriaMetrics(b *testing.B) {
	out, err := exec.Command("bash", filepath.Join("..", ".ci", "build-tools"), "--cached", "victoria-metrics").Output()
	if err != nil {
		b.Skip("no VictoriaMetrics binary cached (.ci/build-tools victoria-metrics builds it)")
	}
	vmBin := strings.TrimSpace(string(out))
	series := envInt("TSDB_FOOTPRINT_SERIES", 2000)
	for _, sh := range footprintShapes(b, series) {
		b.Run("shape="+sh.name, func(b *testing.B) {
			for b.Loop() {
				footprintBoth(b, vmBin, sh)
			}
		})
	}
}

// footprintShape is one data set: series with samples on a shared tick
// grid (a series may miss ticks).
type footprintShape struct {
	name       string
	blockRange int64
	labels     []model.Labels
	ts         [][]int64
	vs         [][]float64
}

func footprintShapes(b *testing.B, series int) []footprintShape {
	var out []footprintShape
	for _, f := range []struct {
		name, file string
		br         int64
	}{{"tsbs-cpu-only", tsbs.CPUOnly, 2 * tsdb.Hour}, {"tsbs-devops", tsbs.DevOps, tsdb.Hour}} {
		path, err := tsbs.Path(f.file)
		if err != nil {
			b.Fatal(err)
		}
		ss, err := tsbs.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		sh := footprintShape{name: f.name, blockRange: f.br}
		for _, s := range ss {
			sh.labels, sh.ts, sh.vs = append(sh.labels, s.Labels), append(sh.ts, s.T), append(sh.vs, s.V)
		}
		out = append(out, sh)
	}
	start := gen.Start // 2024-01-01, as the TSBS files
	counters := footprintShape{name: "counters", blockRange: 2 * tsdb.Hour}
	rng := rand.New(rand.NewPCG(20, 21))
	const n, step = 5760, int64(15_000)
	for i := range series {
		ts, vs := make([]int64, n), make([]float64, n)
		v := 0.0
		for k := range n {
			v += float64(rng.IntN(100))
			ts[k], vs[k] = start+int64(k)*step, v
		}
		counters.labels = append(counters.labels, model.MustFromStrings("__name__", "requests_total",
			"instance", fmt.Sprintf("host-%d:9100", i%100), "job", "node", "series", strconv.Itoa(i)))
		counters.ts, counters.vs = append(counters.ts, ts), append(counters.vs, vs)
	}
	gauges := footprintShape{name: "gauges", blockRange: 2 * tsdb.Hour}
	for i := range max(1, series/5) {
		ts, vs := gen.Series(8640, uint64(i)+1)
		gauges.labels = append(gauges.labels, model.MustFromStrings("__name__", "load",
			"instance", fmt.Sprintf("host-%d:9100", i), "job", "node"))
		gauges.ts, gauges.vs = append(gauges.ts, ts), append(gauges.vs, vs)
	}
	httpReqs := footprintShape{name: "http-counters", blockRange: 2 * tsdb.Hour}
	col := &shapeCollector{sh: &httpReqs, name: "http_requests_total", index: map[string]int{}}
	if err := promgen.Benchmark(col, series, time.UnixMilli(start), 24*time.Hour, 15*time.Second, 1); err != nil {
		b.Fatal(err)
	}
	return append(out, counters, gauges, httpReqs)
}

// shapeCollector gathers a generator's samples of one metric into a
// footprintShape.
type shapeCollector struct {
	sh    *footprintShape
	name  string
	index map[string]int
}

func (c *shapeCollector) Append(l model.Labels, t int64, v float64) error {
	if l.Get("__name__") != c.name {
		return nil
	}
	k := l.String()
	i, ok := c.index[k]
	if !ok {
		i = len(c.sh.labels)
		c.index[k] = i
		c.sh.labels, c.sh.ts, c.sh.vs = append(c.sh.labels, l), append(c.sh.ts, nil), append(c.sh.vs, nil)
	}
	c.sh.ts[i], c.sh.vs[i] = append(c.sh.ts[i], t), append(c.sh.vs[i], v)
	return nil
}

func footprintBoth(b *testing.B, vmBin string, sh footprintShape) {
	samples := 0
	for _, t := range sh.ts {
		samples += len(t)
	}
	n := float64(samples)

	// Ours.
	t0 := time.Now()
	dir := b.TempDir()
	db, err := tsdb.Open(dir, tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true, BlockRange: sh.blockRange})
	if err != nil {
		b.Fatal(err)
	}
	if err := appendScrapeOrder(db, sh); err != nil {
		b.Fatal(err)
	}
	if _, err := db.FlushHead(); err != nil {
		b.Fatal(err)
	}
	var ids []ulid.ULID
	for _, bl := range db.Blocks() {
		ids = append(ids, bl.ULID)
	}
	if len(ids) > 1 {
		if _, err := db.CompactBlocks(ids...); err != nil {
			b.Fatal(err)
		}
	}
	var blocks int64
	var stored uint64
	for _, bl := range db.Blocks() {
		du, err := measure.DiskUsage(bl.Dir)
		if err != nil {
			b.Fatal(err)
		}
		blocks += du
		stored += bl.Stats.NumSamples
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if stored != uint64(samples) {
		b.Fatalf("blocks hold %d samples, %d appended", stored, samples)
	}

	b.Logf("%s: ours written and compacted in %s", sh.name, time.Since(t0).Round(time.Millisecond))

	// VictoriaMetrics.
	t0 = time.Now()
	vmDir := b.TempDir()
	vm, err := startVM(vmBin, vmDir)
	if err != nil {
		b.Fatal(err)
	}
	stopped := false
	defer func() { // stop waits for the exit once: only on the failure paths
		if !stopped {
			vm.stop()
		}
	}()
	if err := importPrometheusText(vm, sh); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: VictoriaMetrics imported in %s", sh.name, time.Since(t0).Round(time.Millisecond))
	if err := vmSettle(vm); err != nil {
		b.Fatal(err)
	}
	vm.stop()
	stopped = true
	b.Logf("%s: VictoriaMetrics settled and stopped after %s", sh.name, time.Since(t0).Round(time.Millisecond))
	vmData := 0.0
	for _, sub := range []string{"data", "indexdb"} {
		du, err := measure.DiskUsage(filepath.Join(vmDir, sub))
		if err != nil {
			b.Fatal(err)
		}
		vmData += float64(du)
	}
	vmAll, err := measure.DiskUsage(vmDir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(blocks)/n, "blocks-B/sample")
	b.ReportMetric(vmData/n, "vm-B/sample")
	b.ReportMetric(float64(vmAll)/n, "vm-dir-B/sample")
	b.ReportMetric(n, "samples")
}

// appendScrapeOrder appends every series' k-th sample in one commit, tick
// after tick, cutting the head after each hour of data.
func appendScrapeOrder(db *tsdb.DB, sh footprintShape) error {
	refs := make([]uint64, len(sh.labels))
	pos := make([]int, len(sh.labels))
	lastCut := int64(0)
	for {
		next := int64(1<<63 - 1)
		for i := range sh.ts {
			if pos[i] < len(sh.ts[i]) {
				next = min(next, sh.ts[i][pos[i]])
			}
		}
		if next == 1<<63-1 {
			return nil
		}
		app := db.Appender(context.Background())
		for i := range sh.ts {
			// A tick: every series' next sample within the same 5 s (the
			// generated gauges jitter by a few ms).
			if pos[i] < len(sh.ts[i]) && sh.ts[i][pos[i]] < next+5000 {
				var err error
				if refs[i], err = app.Append(refs[i], sh.labels[i], sh.ts[i][pos[i]], sh.vs[i][pos[i]]); err != nil {
					return err
				}
				pos[i]++
			}
		}
		if err := app.Commit(); err != nil {
			return err
		}
		if next-lastCut >= tsdb.Hour {
			lastCut = next
			if err := db.Compact(); err != nil {
				return err
			}
		}
	}
}

// importPrometheusText sends the samples as Prometheus exposition text
// with timestamps, 200,000 lines a request.
func importPrometheusText(vm *vmBenchServer, sh footprintShape) error {
	var buf bytes.Buffer
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		err := vm.post("/api/v1/import/prometheus", "text/plain", buf.Bytes(), nil)
		buf.Reset()
		return err
	}
	lines := 0
	for i, ls := range sh.labels {
		name := ls.Get("__name__")
		var head bytes.Buffer
		head.WriteString(name)
		head.WriteByte('{')
		first := true
		for l := range ls.All() {
			if l.Name == "__name__" {
				continue
			}
			if !first {
				head.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&head, "%s=%q", l.Name, l.Value)
		}
		head.WriteString("} ")
		for k, t := range sh.ts[i] {
			buf.Write(head.Bytes())
			buf.WriteString(strconv.FormatFloat(sh.vs[i][k], 'g', -1, 64))
			buf.WriteByte(' ')
			buf.WriteString(strconv.FormatInt(t, 10))
			buf.WriteByte('\n')
			if lines++; lines%200_000 == 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// vmSettle makes every sample searchable and merged.
func vmSettle(vm *vmBenchServer) error {
	if err := vm.post("/internal/force_flush", "", nil, nil); err != nil {
		return err
	}
	return vmMerged(vm)
}

// vmMerged asks VictoriaMetrics to merge its parts, then waits for three
// quiet seconds without a merge.
func vmMerged(vm *vmBenchServer) error {
	if _, err := vm.get("/internal/force_merge"); err != nil {
		return err
	}
	quiet := 0
	for deadline := time.Now().Add(10 * time.Minute); quiet < 3; {
		body, err := vm.get("/metrics")
		if err != nil {
			return err
		}
		if activeMerges(body) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("victoria-metrics still merging after 10 min")
		}
		time.Sleep(time.Second)
	}
	return nil
}
