package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/influxql"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// demo is the state the demo's phases share.
type demo struct {
	e      *tsm.Engine
	g      demoGen
	dir    string
	policy wal.SyncPolicy
	stdout io.Writer
	stderr io.Writer

	mu      sync.Mutex
	flushes []tsm.FlushStats // OnFlush, from the background flusher
}

// cmdDemo follows the guide's transcript: a write phase that fills the
// cache several times (background flushes), a level compaction, queries
// checked against the generator, and a full compaction once writes stop.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--data-dir DIR] [--points N] [--series S] [--cache-size SIZE]", stderr)
	dir := fs.String("data-dir", "", "engine directory (default: a new temp dir, removed at the end)")
	points := fs.Int("points", 10_000_000, "points to write, as in the guide (the last tenth of the hosts join late, so a little fewer arrive; --points 2000000 --series 5000 runs in about a second)")
	series := fs.Int("series", 50_000, "series (10 fields per host, so series/10 hosts)")
	cacheSize := fs.String("cache-size", "", "cache flush threshold (default: a fifth of the data, so the cache fills several times)")
	syncFlag := fs.String("sync", "batch", "WAL durability: always, batch, interval or none")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *points < 1000 || *series < 10 {
		return cli.Usagef("demo: --points must be ≥ 1000 and --series ≥ 10")
	}
	policy, err := wal.ParseSyncPolicy(*syncFlag)
	if err != nil {
		return cli.Usagef("demo: %v", err)
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "stage07-tsm-"); err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	}
	d := &demo{g: newDemoGen(*points, *series, time.Now()), dir: *dir, policy: policy, stdout: stdout, stderr: stderr}
	// ~16 bytes a point in the cache, plus the keys: a fifth of that makes
	// the cache fill about five times.
	limit := int64(d.g.total()*16+d.g.hosts*len(fieldNames)*200) / 5
	if *cacheSize != "" {
		if limit, err = parseSize(*cacheSize); err != nil {
			return cli.Usagef("demo: %v", err)
		}
	}
	d.e, err = tsm.Open(*dir, tsm.Options{CacheMaxSize: limit, WAL: wal.Options{Sync: policy},
		OnFlush: func(s tsm.FlushStats) { d.mu.Lock(); d.flushes = append(d.flushes, s); d.mu.Unlock() }})
	if err != nil {
		return err
	}
	defer d.e.Close()
	fmt.Fprintf(stdout, "TSM Storage Engine initialized (%s)\n", *dir)
	fmt.Fprintf(stdout, "Cache size limit: %s (engine default %s; scaled so this run fills it several times: --cache-size)\n", mb(limit), fmt.Sprintf("%dMiB", tsm.DefaultCacheMaxSize>>20))
	fmt.Fprintf(stdout, "TSM blocks: up to %s points per key; level compaction: %d files of level N → 1 of level N+1\n",
		cli.Thousands(tsm.MaxPointsPerBlock), tsm.LevelCompactionFiles)

	walBytes, err := d.write()
	if err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n[Compaction Phase]")
	before := d.e.Stats()
	if _, err := compactAll(d.e, false, stdout); err != nil {
		return err
	}
	after := d.e.Stats()
	fmt.Fprintf(stdout, "Files: %d before, %d after (%s → %s)\n", len(before.Files), len(after.Files), fileList(before), fileList(after))
	bad, err := d.query()
	if err != nil {
		return err
	}
	if err := d.fullCompaction(walBytes); err != nil {
		return err
	}
	if bad > 0 {
		return cli.ErrReported
	}
	return nil
}

// write is the write phase: batches of 10 scrapes, each one WAL record
// acknowledged after its sync. It returns the bytes the WAL took.
func (d *demo) write() (walBytes int64, err error) {
	g, stdout := d.g, d.stdout
	fmt.Fprintln(stdout, "\n[Write Phase]")
	fmt.Fprintf(stdout, "Writing %s points across %s series (%s hosts × %d fields, every 10 s; the last %s hosts join at 85%%)...\n",
		cli.Thousands(g.total()), cli.Thousands(g.hosts*len(fieldNames)), cli.Thousands(g.hosts), len(fieldNames), cli.Thousands(g.hosts/10))
	progress := cli.NewProgress(d.stderr, "writing", int64(g.total()), cli.DefaultInterval)
	defer progress.Done()
	state := g.initialState()
	b := tsm.NewBatch()
	const stepsPerWrite = 10
	start := time.Now()
	var peak int64
	writes := 0
	for i := 0; i < g.steps; i += stepsPerWrite {
		b.Reset()
		for s := i; s < min(i+stepsPerWrite, g.steps); s++ {
			for _, p := range g.pointsAt(s, state, nil) {
				if err := b.AddPoint(&p, 0); err != nil {
					return 0, err
				}
			}
		}
		if err := d.e.WriteBatch(b); err != nil {
			return 0, err
		}
		writes++
		progress.Add(int64(b.Len()))
		peak = max(peak, d.e.Stats().CacheBytes)
	}
	elapsed := time.Since(start)
	progress.Done()
	st := d.e.Stats()
	fmt.Fprintf(stdout, "Wrote %s points in %s (%s points/s; %d writes, WAL sync=%s: each acknowledged after its fsync)\n",
		cli.Thousands(g.total()), cli.Duration(elapsed), cli.Thousands(int(float64(g.total())/elapsed.Seconds())), writes, d.policy)
	fmt.Fprintf(stdout, "Cache usage: %s (peak %s)\n", mb(st.CacheBytes), mb(peak))
	segs, segBytes := walSegments(filepath.Join(d.dir, "wal"))
	fmt.Fprintf(stdout, "WAL segments: %d (%s; %d written, the rest truncated after flushes)\n", len(segs), mb(segBytes), st.WAL.Segment+1)
	return int64(st.WAL.Bytes), nil
}

// flush prints the flushes the write triggered, then flushes the rest.
func (d *demo) flush() error {
	fmt.Fprintln(d.stdout, "\n[Flush Phase - cache full]")
	// Flush waits for a background flush still running, then flushes what
	// is left in the cache (if anything).
	last, err := d.e.Flush()
	if err != nil {
		return err
	}
	d.mu.Lock()
	bg := d.flushes
	if last.File.Keys > 0 {
		bg = bg[:len(bg)-1]
	}
	fmt.Fprintf(d.stdout, "The cache filled %d times during the write; each snapshot was flushed while writes went on:\n", len(bg))
	for _, f := range bg {
		printFlush(d.stdout, f)
	}
	d.mu.Unlock()
	if last.File.Keys > 0 {
		fmt.Fprintln(d.stdout, "Flushing the rest of the cache...")
		printFlush(d.stdout, last)
	}
	return nil
}

// query runs the guide's query for an early host and for a late one (the
// bloom filters' case), each checked against the generator, and an
// aggregate; it returns how many checks failed.
func (d *demo) query() (bad int, err error) {
	g, stdout := d.g, d.stdout
	fmt.Fprintln(stdout, "\n[Query Phase]")
	now := time.Unix(0, g.end()+int64(time.Second))
	for _, h := range []int{1, g.hosts - 1} {
		q := fmt.Sprintf("SELECT * FROM cpu WHERE host='%s' AND time > now() - 1h", g.host(h))
		fmt.Fprintf(stdout, "Query: %s", q)
		if g.late(h) {
			fmt.Fprint(stdout, "   (a late host: absent from the older files)")
		}
		fmt.Fprintln(stdout)
		res, el, err := runQuery(d.e, q, now)
		if err != nil {
			return bad, err
		}
		printQueryStats(stdout, res, el)
		bad += checkHost(stdout, g, h, res, now.UnixNano()-int64(time.Hour))
	}
	q := fmt.Sprintf("SELECT mean(usage_user), max(usage_user), count(usage_user) FROM cpu WHERE region='%s' AND time > now() - 1h GROUP BY time(15m)", regions[0])
	fmt.Fprintf(stdout, "Query: %s\n", q)
	res, el, err := runQuery(d.e, q, now)
	if err != nil {
		return bad, err
	}
	var sb strings.Builder
	influxql.Format(res, &sb, 10)
	fmt.Fprint(stdout, indent(strings.TrimRight(sb.String(), "\n"))+"\n")
	printQueryStats(stdout, res, el)
	return bad, nil
}

// fullCompaction merges every file into one, as a shard whose writes went
// cold ends, and compares its size with the WAL's.
func (d *demo) fullCompaction(walBytes int64) error {
	fmt.Fprintln(d.stdout, "\n[Full Compaction - writes cold]")
	if _, err := compactAll(d.e, true, d.stdout); err != nil {
		return err
	}
	var size int64
	for _, f := range d.e.Stats().Files {
		size += f.Size
	}
	total := d.g.total()
	fmt.Fprintf(d.stdout, "On disk: %s for %s points: %.3f bytes/point (raw 16; the WAL needed %.1f)\n",
		mb(size), cli.Thousands(total), float64(size)/float64(total), float64(walBytes)/float64(total))
	return nil
}

func fileList(s tsm.Stats) string {
	names := make([]string, len(s.Files))
	for i, f := range s.Files {
		names[i] = fmt.Sprintf("%s (L%d)", f.Name, f.Level)
	}
	return strings.Join(names, ", ")
}

// checkHost compares a raw query's answer with the generator.
func checkHost(w io.Writer, g demoGen, h int, res *influxql.Result, after int64) int {
	want := 0
	got := map[string]float64{}
	for _, s := range res.Series {
		for _, row := range s.Rows {
			for c, v := range row.Values {
				if v != nil {
					got[fmt.Sprint(s.Columns[c+1], row.Time)] = v.(float64)
				}
			}
		}
	}
	bad := 0
	for f, name := range fieldNames {
		vals := g.series(h, f)
		for i, v := range vals {
			t := g.start + int64(i)*g.every
			if t <= after || !g.active(h, i) {
				continue
			}
			want++
			if x, ok := got[fmt.Sprint(name, t)]; !ok || x != v || math.IsNaN(x) {
				bad++
			}
		}
	}
	if bad > 0 || want != res.Points {
		fmt.Fprintf(w, "Check: FAILED: %d of %d points wrong or missing, %d returned\n", bad, want, res.Points)
		return 1
	}
	fmt.Fprintf(w, "Check: all %s points equal the generator's\n", cli.Thousands(want))
	return 0
}

func walSegments(dir string) ([]string, int64) {
	ents, _ := os.ReadDir(dir)
	var names []string
	var total int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !e.IsDir() {
			names = append(names, e.Name())
			total += fi.Size()
		}
	}
	return names, total
}
