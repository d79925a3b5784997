package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
)

// writeConfig is what the write phase needs; the demo fills it directly.
type writeConfig struct {
	dir         string
	points      int
	crashAfter  int
	appenders   int
	sync        wal.SyncPolicy
	compression wal.Compression
	segmentSize int64
	ack         bool
	firstHost   int  // appender g writes host firstHost+g
	denseRec    bool // log dense samples records (type 32, the default) instead of type 2
}

func cmdWrite(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "write", "--data-dir DIR [--points N] [--crash-after M] [--sync always|batch|interval|none] [--appenders A] [--first-host H] [--segment-size BYTES] [--compression snappy|zstd|none] [--record dense|samples] [--ack]", stderr)
	c := writeConfig{}
	fs.StringVar(&c.dir, "data-dir", "", "WAL directory (created if missing; default: a new temp dir, kept and printed)")
	fs.IntVar(&c.points, "points", 1_000_000, "points to write, in 1,000-point batches")
	fs.IntVar(&c.crashAfter, "crash-after", 0, "SIGKILL this process once this many points are acknowledged (0: never)")
	syncFlag := fs.String("sync", "batch", "durability: always, batch (group commit), interval or none")
	compFlag := fs.String("compression", "snappy", "how records are stored: snappy, zstd or none")
	recFlag := fs.String("record", "dense", "samples record: dense (type 32, what stage06's head logs) or samples (type 2, Prometheus's layout)")
	interval := fs.Duration("sync-interval", wal.DefaultSyncInterval, "fsync period for --sync interval")
	fs.IntVar(&c.appenders, "appenders", 8, "concurrent appenders (one host of 1,000 series each)")
	fs.Int64Var(&c.segmentSize, "segment-size", wal.DefaultSegmentSize, "segment rotation size in bytes")
	fs.IntVar(&c.firstHost, "first-host", 0, "number of the first host (appender g writes host first-host+g)")
	fs.BoolVar(&c.ack, "ack", false, `print "ack HOST BATCH" on stdout after each batch is acknowledged`)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	p, err := wal.ParseSyncPolicy(*syncFlag)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	c.sync = p
	if c.compression, err = wal.ParseCompression(*compFlag); err != nil {
		return cli.Usagef("%v", err)
	}
	switch *recFlag {
	case "dense":
		c.denseRec = true
	case "samples":
	default:
		return cli.Usagef("write: --record %q: want dense or samples", *recFlag)
	}
	if c.points < 1 || c.appenders < 1 || c.segmentSize < 1 || c.crashAfter < 0 || c.firstHost < 0 {
		return cli.Usagef("write: --points, --appenders and --segment-size must be positive, --crash-after and --first-host not negative")
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "stage04-wal-"); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "writing to %s\n", c.dir)
	}
	_, err = writePhase(c, wal.Options{Sync: c.sync, SegmentSize: c.segmentSize, SyncInterval: *interval, Compression: c.compression}, stdout, stderr)
	return err
}

// writeResult is what the write phase measured.
type writeResult struct {
	points  int
	elapsed time.Duration
	stats   wal.Stats
}

// writePhase runs c.appenders goroutines, each logging its host's series
// record and then its batches, and prints the guide's write summary.
func writePhase(c writeConfig, o wal.Options, stdout, stderr io.Writer) (writeResult, error) {
	var res writeResult
	w, err := wal.Open(c.dir, o)
	if err != nil {
		return res, err
	}
	total := (c.points + seriesPerHost - 1) / seriesPerHost
	var acked atomic.Int64
	var outMu sync.Mutex
	prog := cli.NewProgress(stderr, "write", int64(total*seriesPerHost), time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, c.appenders)
	for a := range c.appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := c.firstHost + a
			if err := w.Log(wal.AppendSeries(nil, hostSeries(g))); err != nil {
				errs <- err
				return
			}
			batch := make([]wal.RefSample, seriesPerHost)
			var rec []byte
			for b := range batchesFor(total, c.appenders, a) {
				fillBatch(batch, g, b)
				if c.denseRec {
					rec = wal.AppendDenseSamples(rec[:0], batch)
				} else {
					rec = wal.AppendSamples(rec[:0], batch)
				}
				if err := w.Log(rec); err != nil {
					errs <- err
					return
				}
				// The batch is acknowledged: durable as the policy promises.
				// Counting, printing and the crash check happen under one
				// lock, so that when the process kills itself every count
				// up to the fatal one has its ack line out.
				outMu.Lock()
				n := acked.Add(seriesPerHost)
				prog.Add(seriesPerHost)
				if c.ack {
					fmt.Fprintf(stdout, "ack %d %d\n", g, b)
				}
				if c.crashAfter > 0 && n >= int64(c.crashAfter) {
					// A real crash: no deferred code, no Close, no flush.
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				outMu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	res.elapsed = time.Since(start)
	prog.Done()
	res.stats = w.Stats()
	if err := w.Close(); err != nil {
		return res, err
	}
	if err := <-errs; err != nil {
		return res, err
	}
	res.points = int(acked.Load())
	if c.ack {
		return res, nil
	}
	fmt.Fprintf(stdout, "Wrote %s data points to WAL (%d appenders, 1,000-point batches, sync=%v)\n", cli.Thousands(res.points), c.appenders, o.Sync)
	fmt.Fprintf(stdout, "WAL segments: %s\n", segmentList(c.dir))
	fmt.Fprintf(stdout, "Write throughput: %s points/second (%s bytes/point", cli.Thousands(rate(res.points, res.elapsed)),
		fmt.Sprintf("%.1f", float64(res.stats.Bytes)/float64(max(res.points, 1))))
	if res.stats.Fsyncs > 0 {
		fmt.Fprintf(stdout, ", %s appends, %s fsyncs", cli.Thousands(int(res.stats.Records)), cli.Thousands(int(res.stats.Fsyncs)))
	}
	fmt.Fprintln(stdout, ")")
	return res, nil
}

// segmentList is "00000000 (16.0MB), 00000001 (4.2MB)".
func segmentList(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	s := ""
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s (%s)", n, mib(fi.Size()))
	}
	if s == "" {
		return "(none)"
	}
	return s
}
