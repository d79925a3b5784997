package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

// engineFlags are the engine options every subcommand that opens one takes.
type engineFlags struct {
	dir       string
	cacheSize string
	sync      string
}

func (f *engineFlags) open(stdout io.Writer) (*tsm.Engine, error) {
	opts := tsm.Options{}
	if f.cacheSize != "" {
		n, err := parseSize(f.cacheSize)
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		opts.CacheMaxSize = n
	}
	if f.sync != "" {
		p, err := wal.ParseSyncPolicy(f.sync)
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		opts.WAL.Sync = p
	}
	opts.OnFlush = func(s tsm.FlushStats) { printFlush(stdout, s) }
	return tsm.Open(f.dir, opts)
}

func printFlush(w io.Writer, s tsm.FlushStats) {
	fmt.Fprintf(w, "Created: %s (%s compressed)\n", s.File.Path, mb(s.File.Size))
	fmt.Fprintf(w, "  Series: %s (%s tag sets × fields)\n  Points: %s\n", cli.Thousands(s.File.Keys), cli.Thousands(s.Series), cli.Thousands(s.File.Values))
	fmt.Fprintf(w, "  Compression ratio: %.1fx (%.2f bytes/point on disk vs 16 raw: 8-byte time + 8-byte value)\n",
		16*float64(s.File.Values)/float64(s.File.Size), float64(s.File.Size)/float64(s.File.Values))
}

func cmdWrite(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "write", "--data-dir DIR --file X.influx[.gz] [--batch N] [--sync POLICY] [--cache-size SIZE] [--no-flush]", stderr)
	var ef engineFlags
	fs.StringVar(&ef.dir, "data-dir", "", "engine directory (created if missing)")
	fs.StringVar(&ef.cacheSize, "cache-size", "256MiB", "cache size that triggers a flush to a TSM file")
	fs.StringVar(&ef.sync, "sync", "batch", "WAL durability: always, batch (group commit), interval or none")
	file := fs.String("file", "", "line-protocol file to load (gzipped if it ends in .gz)")
	batch := fs.Int("batch", 5000, "lines per write (one WAL record)")
	noFlush := fs.Bool("no-flush", false, "leave the cache in the WAL at the end instead of flushing it to a TSM file")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	if *file == "" || *batch < 1 {
		return cli.Usagef("write: --file is required and --batch must be positive")
	}
	fh, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer fh.Close()
	var r io.Reader = fh
	if strings.HasSuffix(*file, ".gz") {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		r = zr
	}
	e, err := ef.open(stdout)
	if err != nil {
		return err
	}
	defer e.Close()
	start := time.Now()
	prog := cli.NewProgress(stderr, "writing", 0, cli.DefaultInterval)
	d := lineprotocol.NewDecoder(r)
	b := tsm.NewBatch()
	var p lineprotocol.Point
	lines, values := 0, 0
	now := time.Now().UnixNano()
	for d.Next(&p) {
		if err := b.AddPoint(&p, now); err != nil {
			prog.Done()
			return fmt.Errorf("%s: line %d: %w", *file, d.Line(), err)
		}
		lines++
		if lines%*batch == 0 {
			values += b.Len()
			if err := e.WriteBatch(b); err != nil {
				prog.Done()
				return err
			}
			prog.Add(int64(b.Len()))
			b.Reset()
		}
	}
	if err := d.Err(); err != nil {
		prog.Done()
		return fmt.Errorf("%s: %w", *file, err)
	}
	values += b.Len()
	if err := e.WriteBatch(b); err != nil {
		prog.Done()
		return err
	}
	prog.Done()
	el := time.Since(start)
	st := e.Stats()
	fmt.Fprintf(stdout, "Wrote %s lines, %s values in %s (%s values/s, parsing included, WAL sync=%s)\n",
		cli.Thousands(lines), cli.Thousands(values), cli.Duration(el), cli.Thousands(int(float64(values)/el.Seconds())), ef.sync)
	fmt.Fprintf(stdout, "Cache usage: %s (%s values, %s keys)\n", mb(st.CacheBytes), cli.Thousands(int(st.CacheValues)), cli.Thousands(st.CacheKeys))
	if !*noFlush {
		if _, err := e.Flush(); err != nil {
			return err
		}
	}
	printFiles(stdout, e.Stats())
	return nil
}

func printFiles(w io.Writer, st tsm.Stats) {
	var total int64
	fmt.Fprintf(w, "TSM files: %d\n", len(st.Files))
	for _, f := range st.Files {
		fmt.Fprintf(w, "  %s  level %d  %s  %s keys", f.Name, f.Level, mb(f.Size), cli.Thousands(f.Keys))
		if f.Tombstones > 0 {
			fmt.Fprintf(w, "  %d tombstones", f.Tombstones)
		}
		fmt.Fprintln(w)
		total += f.Size
	}
	if len(st.Files) > 1 {
		fmt.Fprintf(w, "  total %s\n", mb(total))
	}
}
