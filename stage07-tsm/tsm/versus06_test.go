package tsm

import (
	"compress/gzip"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// The same workload through this stage's TSM engine and stage06's blocks,
// side by side: the TSBS cpu-only file (100 hosts × 10 fields × 6 h at 10 s,
// 2.16M integer values), parsed once into points, then for each engine, on a
// fresh directory, in this order:
//
//  1. ingest: the points in file order, 5,000 lines (50,000 values) per
//     write, one writer, WAL sync=batch (each write acknowledged after an
//     fsync covering it: group commit). Timed: the engine's client work
//     (point → keys or labels) and the write. Nothing is persisted beyond
//     the WAL while timed: stage07's cache (default 256 MiB) never fills;
//     stage06 runs without background compaction, so the head is not cut.
//  2. persist: the data leaves memory as three 2-hour pieces, the shape both
//     engines produce on their own. stage07 flushes its cache when the data
//     crosses 02:00 and 04:00 and at the end (three level-1 files); stage06
//     cuts its head into its three 2 h blocks (FlushHead).
//  3. compact: three pieces → one. stage07: full compaction (what a cold
//     shard gets); stage06: the 6 h level merge of its three blocks, which
//     FlushHead runs right after the cuts. MB/s = input bytes / duration.
//  4. size on disk: the TSM file / the block directory (index, chunks,
//     meta), bytes per value. The WAL is left out (both have truncated it).
//  5. query: one series × 1 h (360 values) as a client asks for it: the
//     series by its tags, then its values. stage07: SelectSeries (series
//     index) → Series → Read; stage06: Querier + Select(__name__, hostname)
//     + iterate. 100 queries (each host once, hours rotating), each checked
//     against the points. Also on the in-memory state (before step 2: the
//     stage07 cache holds the last 2 h, stage06's head all 6 h; the queries
//     ask for 04:00-05:00).
//  6. reopen: Close, then Open on the compacted directory.
//
// Run: go test -run x -bench Versus06 -benchtime 1x -count 5 ./stage07-tsm/tsm/

const versusLines = 5000 // lines per write, as BenchmarkIngestTSBS

var versus struct {
	once   sync.Once
	points []lineprotocol.Point
	err    error
	n      int // values
	start  int64
	// usage_user of each host (hostname → time ns → value): the oracle of
	// the queries.
	user map[string]map[int64]float64
}

// versusPoints parses cpu-only once into points that own their memory
// (tags and names shared between the points of a series).
func versusPoints(tb testing.TB) []lineprotocol.Point {
	tb.Helper()
	versus.once.Do(func() {
		path, err := tsbs.Path(tsbs.CPUOnly)
		if err != nil {
			versus.err = err
			return
		}
		fh, err := os.Open(path)
		if err != nil {
			versus.err = err
			return
		}
		defer fh.Close()
		zr, err := gzip.NewReader(fh)
		if err != nil {
			versus.err = err
			return
		}
		intern := map[string][]byte{}
		in := func(b []byte) []byte {
			if s, ok := intern[string(b)]; ok {
				return s
			}
			c := []byte(string(b))
			intern[string(c)] = c
			return c
		}
		tagsets := map[string][]lineprotocol.Tag{}
		versus.user = map[string]map[int64]float64{}
		d := lineprotocol.NewDecoder(zr)
		var p lineprotocol.Point
		var sk []byte
		for d.Next(&p) {
			q := lineprotocol.Point{Measurement: in(p.Measurement), Time: p.Time, HasTime: p.HasTime}
			sk = sk[:0]
			for _, t := range p.Tags {
				sk = append(append(append(sk, t.Key...), 0), t.Value...)
			}
			if q.Tags = tagsets[string(sk)]; q.Tags == nil {
				for _, t := range p.Tags {
					q.Tags = append(q.Tags, lineprotocol.Tag{Key: in(t.Key), Value: in(t.Value)})
				}
				tagsets[string(sk)] = q.Tags
			}
			q.Fields = make([]lineprotocol.Field, len(p.Fields))
			for i, f := range p.Fields {
				if f.Value.Kind() == lineprotocol.String {
					versus.err = fmt.Errorf("line %d: string field: not in cpu-only", d.Line())
					return
				}
				q.Fields[i] = lineprotocol.Field{Key: in(f.Key), Value: f.Value}
				if string(f.Key) == "usage_user" {
					h := tagValue(q.Tags, "hostname")
					if versus.user[h] == nil {
						versus.user[h] = map[int64]float64{}
					}
					versus.user[h][p.Time] = fieldFloat(f.Value)
				}
			}
			versus.n += len(q.Fields)
			versus.points = append(versus.points, q)
		}
		if versus.err = d.Err(); versus.err == nil && len(versus.points) > 0 {
			versus.start = versus.points[0].Time
		}
	})
	mustNoErr(tb, versus.err)
	return versus.points
}

func tagValue(tags []lineprotocol.Tag, k string) string {
	for _, t := range tags {
		if string(t.Key) == k {
			return string(t.Value)
		}
	}
	return ""
}

func fieldFloat(v lineprotocol.Value) float64 {
	switch v.Kind() {
	case lineprotocol.Integer:
		return float64(v.Int())
	case lineprotocol.Unsigned:
		return float64(v.Uint())
	case lineprotocol.Boolean:
		if v.Bool() {
			return 1
		}
		return 0
	}
	return v.Float()
}

// versusQuery is query i of 100: host_i, usage_user, one hour starting
// `hour` hours (of the hours list, by i) after the start of the data. It
// returns the host, [min, max] in ns, and the expected count and sum.
func versusQuery(i int, hours []int) (host string, min, max int64, n int, sum float64) {
	host = fmt.Sprintf("host_%d", i%100)
	min = versus.start + int64(hours[i%len(hours)])*int64(time.Hour)
	max = min + int64(time.Hour) - 1
	for t, v := range versus.user[host] {
		if t >= min && t <= max {
			n++
			sum += v
		}
	}
	return host, min, max, n, sum
}

// versusEngine is what the benchmark needs of an engine.
type versusEngine interface {
	// ingest writes the points and returns the time they took; an engine
	// that persists while ingesting (stage07 flushes at each new 2 h piece)
	// returns that time apart, as persist.
	ingest(pts []lineprotocol.Point) (ingest, persist time.Duration, err error)
	// persist moves what is left in memory to disk and compacts it all
	// into one piece: the durations and the compaction's input bytes.
	persist() (persist, compact time.Duration, compactIn int64, err error)
	query(host string, min, max int64) (n int, sum float64, err error)
	diskBytes() int64
	reopen() (time.Duration, error)
	close() error
}

func BenchmarkVersus06(b *testing.B) {
	pts := versusPoints(b)
	engines := []struct {
		name string
		open func(dir string) (versusEngine, error)
	}{
		{"stage07-tsm", openTSMVersus},
		{"stage06-blocks", openBlocksVersus},
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			b.ReportAllocs()
			var ingest, persist, compact, query, memQuery, reopen time.Duration
			var compactIn, disk int64
			for range b.N {
				e, err := eng.open(b.TempDir())
				mustNoErr(b, err)
				in, pe, err := e.ingest(pts)
				mustNoErr(b, err)
				ingest += in
				persist += pe
				memQuery += runVersusQueries(b, e, []int{4})
				pe, co, cin, err := e.persist()
				mustNoErr(b, err)
				persist += pe
				compact += co
				compactIn += cin
				disk = e.diskBytes()
				query += runVersusQueries(b, e, []int{0, 1, 2, 3, 4, 5})
				ro, err := e.reopen()
				mustNoErr(b, err)
				reopen += ro
				runVersusQueries(b, e, []int{2}) // the reopened engine answers the same
				mustNoErr(b, e.close())
			}
			n := float64(versus.n) * float64(b.N)
			b.ReportMetric(n/ingest.Seconds(), "values/s")
			b.ReportMetric(n/persist.Seconds(), "persist-values/s")
			b.ReportMetric(float64(compactIn)/1e6/compact.Seconds(), "compact-MB/s")
			b.ReportMetric(n/compact.Seconds(), "compact-values/s")
			b.ReportMetric(float64(disk)/float64(versus.n), "B/value")
			b.ReportMetric(float64(query.Microseconds())/float64(100*versusQueryPasses*b.N), "µs/query")
			b.ReportMetric(float64(memQuery.Microseconds())/float64(100*versusQueryPasses*b.N), "mem-µs/query")
			b.ReportMetric(float64(reopen.Microseconds())/1e3/float64(b.N), "open-ms")
		})
	}
}

// versusQueryPasses is how many times the 100 queries are timed.
const versusQueryPasses = 10

// runVersusQueries runs the 100 queries 1 + versusQueryPasses times,
// checking each answer against the points, and returns the time of the
// timed passes.
func runVersusQueries(b *testing.B, e versusEngine, hours []int) time.Duration {
	b.Helper()
	type q struct {
		host     string
		min, max int64
		n        int
		sum      float64
	}
	qs := make([]q, 100)
	for i := range qs {
		x := &qs[i]
		x.host, x.min, x.max, x.n, x.sum = versusQuery(i, hours)
		if x.n != 360 {
			b.Fatalf("oracle: %s has %d values in the hour, want 360", x.host, x.n)
		}
	}
	runtime.GC() // the garbage of the phase before is not the queries' cost
	var took time.Duration
	for pass := range 1 + versusQueryPasses {
		start := time.Now()
		for _, x := range qs {
			n, sum, err := e.query(x.host, x.min, x.max)
			if err != nil || n != x.n || sum != x.sum {
				b.Fatalf("%s [%d, %d]: %d values summing to %v (%v), want %d summing to %v", x.host, x.min, x.max, n, sum, err, x.n, x.sum)
			}
		}
		if pass > 0 { // the first pass warms up: page faults on the mapped files
			took += time.Since(start)
		}
	}
	return took
}

// stage07: the TSM engine, defaults (256 MiB cache, sync=batch WAL, no
// auto-compaction: the benchmark compacts when it means to).

type tsmVersus struct {
	dir  string
	e    *Engine
	user *index.Matcher // reused by queries
}

func openTSMVersus(dir string) (versusEngine, error) {
	e, err := Open(dir, Options{WAL: wal.Options{Sync: wal.SyncBatch}})
	return &tsmVersus{dir: dir, e: e}, err
}

func (v *tsmVersus) ingest(pts []lineprotocol.Point) (time.Duration, time.Duration, error) {
	var ingest, persist time.Duration
	b := NewBatch()
	piece := pieceOf(pts[0].Time)
	start := time.Now()
	for i := range pts {
		p := &pts[i]
		if pc := pieceOf(p.Time); pc != piece || b.Len() >= versusLines*len(p.Fields) {
			if err := v.e.WriteBatch(b); err != nil {
				return 0, 0, err
			}
			b.Reset()
			if pc != piece {
				ingest += time.Since(start)
				t := time.Now()
				if _, err := v.e.Flush(); err != nil {
					return 0, 0, err
				}
				persist += time.Since(t)
				piece = pc
				start = time.Now()
			}
		}
		if err := b.AddPoint(p, 0); err != nil {
			return 0, 0, err
		}
	}
	err := v.e.WriteBatch(b)
	ingest += time.Since(start)
	return ingest, persist, err
}

// pieceOf is the 2 h piece a time (ns) belongs to.
func pieceOf(t int64) int64 { return t / int64(2*time.Hour) }

func (v *tsmVersus) persist() (time.Duration, time.Duration, int64, error) {
	fs, err := v.e.Flush()
	if err != nil {
		return 0, 0, 0, err
	}
	if n := len(v.e.Stats().Files); n != 3 {
		return 0, 0, 0, fmt.Errorf("%d files before compaction, want 3", n)
	}
	cs, err := v.e.Compact(true)
	if err == nil && cs.Output.Values != versus.n {
		err = fmt.Errorf("full compaction wrote %d values, want %d", cs.Output.Values, versus.n)
	}
	return fs.Duration, cs.Duration, cs.BytesRead, err
}

func (v *tsmVersus) query(host string, min, max int64) (int, float64, error) {
	m, err := index.NewMatcher(index.MatchEqual, "hostname", host)
	if err != nil {
		return 0, 0, err
	}
	n, sum := 0, 0.0
	it := v.e.SelectSeries("cpu", m).Iterator()
	for it.HasNext() {
		s, ok := v.e.Series(index.SeriesID(it.Next()))
		if !ok {
			return 0, 0, fmt.Errorf("series vanished")
		}
		for _, f := range s.Fields {
			if f.Name != "usage_user" {
				continue
			}
			vs, _, err := v.e.Read(f.Key, min, max)
			if err != nil {
				return 0, 0, err
			}
			for _, bits := range vs.V {
				sum += float64(int64(bits))
			}
			n += vs.Len()
		}
	}
	return n, sum, nil
}

func (v *tsmVersus) diskBytes() int64 {
	var n int64
	for _, f := range v.e.Stats().Files {
		n += f.Size
	}
	return n
}

func (v *tsmVersus) reopen() (time.Duration, error) {
	if err := v.e.Close(); err != nil {
		return 0, err
	}
	start := time.Now()
	e, err := Open(v.dir, Options{WAL: wal.Options{Sync: wal.SyncBatch}})
	v.e = e
	return time.Since(start), err
}

func (v *tsmVersus) close() error { return v.e.Close() }

// stage06: the blocks engine, defaults (2 h blocks, levels 2 h/6 h/18 h/
// 54 h, sync=batch WAL, 120-sample chunks) but no background compaction,
// so that the head is cut when the benchmark says (as stage07 flushes).
// The client keeps a ref per series, as Prometheus's scrape cache does,
// keyed by the series as written (measurement, tags, field): one map
// lookup per value, as stage07's Batch does.

type blocksVersus struct {
	dir  string
	db   *tsdb.DB
	name *index.Matcher
}

func blocksOptions() tsdb.Options {
	return tsdb.Options{WALSync: wal.SyncBatch, NoBackgroundCompaction: true}
}

func openBlocksVersus(dir string) (versusEngine, error) {
	db, err := tsdb.Open(dir, blocksOptions())
	return &blocksVersus{dir: dir, db: db,
		name: index.MustNewMatcher(index.MatchEqual, model.MetricName, "cpu_usage_user")}, err
}

type blocksRef struct {
	ref  uint64
	lset model.Labels
}

func (v *blocksVersus) ingest(pts []lineprotocol.Point) (time.Duration, time.Duration, error) {
	refs := map[string]*blocksRef{}
	var key []byte
	start := time.Now()
	app := v.db.Appender(nil)
	for i := range pts {
		p := &pts[i]
		if i > 0 && i%versusLines == 0 {
			if err := app.Commit(); err != nil {
				return 0, 0, err
			}
			app = v.db.Appender(nil)
		}
		key = append(key[:0], p.Measurement...)
		for _, t := range p.Tags {
			key = append(append(append(append(key, ','), t.Key...), '='), t.Value...)
		}
		key = append(key, ' ')
		n := len(key)
		for _, f := range p.Fields {
			key = append(key[:n], f.Key...)
			r := refs[string(key)]
			if r == nil {
				lset, err := blocksLabels(p, f.Key)
				if err != nil {
					return 0, 0, err
				}
				r = &blocksRef{lset: lset}
				refs[string(key)] = r
			}
			ref, err := app.Append(r.ref, r.lset, p.Time/int64(time.Millisecond), fieldFloat(f.Value))
			if err != nil {
				return 0, 0, err
			}
			r.ref = ref
		}
	}
	err := app.Commit()
	return time.Since(start), 0, err
}

// blocksLabels names a field of a point as Prometheus would:
// <measurement>_<field> with the tags as labels (the data README's naming).
func blocksLabels(p *lineprotocol.Point, field []byte) (model.Labels, error) {
	kv := []string{model.MetricName, string(p.Measurement) + "_" + string(field)}
	for _, t := range p.Tags {
		kv = append(kv, string(t.Key), string(t.Value))
	}
	return model.FromStrings(kv...)
}

func (v *blocksVersus) persist() (time.Duration, time.Duration, int64, error) {
	sts, err := v.db.FlushHead()
	if err != nil {
		return 0, 0, 0, err
	}
	var persist, compact time.Duration
	var in int64
	cuts, merges := 0, 0
	for _, st := range sts {
		if len(st.Parents) == 0 {
			persist += st.Duration
			cuts++
		} else {
			compact += st.Duration
			in += st.InSize
			merges++
		}
	}
	bs := v.db.Blocks()
	if cuts != 3 || merges != 1 || len(bs) != 1 || bs[0].Stats.NumSamples != uint64(versus.n) {
		return 0, 0, 0, fmt.Errorf("head cut into %d blocks, %d merges, %d blocks after (want 3, 1, 1 of %d samples)",
			cuts, merges, len(bs), versus.n)
	}
	return persist, compact, in, nil
}

func (v *blocksVersus) query(host string, min, max int64) (int, float64, error) {
	q, err := v.db.Querier(min/int64(time.Millisecond), max/int64(time.Millisecond))
	if err != nil {
		return 0, 0, err
	}
	defer q.Close()
	m, err := index.NewMatcher(index.MatchEqual, "hostname", host)
	if err != nil {
		return 0, 0, err
	}
	n, sum := 0, 0.0
	ss := q.Select(v.name, m)
	var it tsdb.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() {
			_, x := it.At()
			sum += x
			n++
		}
		if err := it.Err(); err != nil {
			return 0, 0, err
		}
	}
	return n, sum, ss.Err()
}

func (v *blocksVersus) diskBytes() int64 {
	var n int64
	for _, bl := range v.db.Blocks() {
		n += bl.Size
	}
	return n
}

func (v *blocksVersus) reopen() (time.Duration, error) {
	if err := v.db.Close(); err != nil {
		return 0, err
	}
	start := time.Now()
	db, err := tsdb.Open(v.dir, blocksOptions())
	v.db = db
	return time.Since(start), err
}

func (v *blocksVersus) close() error { return v.db.Close() }
