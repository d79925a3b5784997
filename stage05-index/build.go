package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage05-index/gen"
	"github.com/tsdb-course/stage05-index/index"
)

// buildResult is what building an index measured.
type buildResult struct {
	ix             *index.Index
	elapsed        time.Duration
	bytesPerSeries float64
}

// buildGenerated indexes n generated series, with progress lines on stderr
// when it takes long.
func buildGenerated(n int, seed uint64, stderr io.Writer) (buildResult, error) {
	g := gen.New(n, seed)
	before := liveHeap()
	start := time.Now()
	ix := index.New()
	prog := cli.NewProgress(stderr, "indexing", int64(n), cli.DefaultInterval)
	for i, ls := range g.All() {
		if _, _, err := ix.Add(ls); err != nil {
			prog.Done()
			return buildResult{}, err
		}
		if i&0xffff == 0xffff {
			prog.Add(0x10000)
		}
	}
	elapsed := time.Since(start)
	prog.Done()
	return buildResult{ix: ix, elapsed: elapsed, bytesPerSeries: float64(liveHeap()-before) / float64(n)}, nil
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// cmdBuild writes an index file of generated series.
func cmdBuild(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "build", "[--series N] [--seed S] --file PATH", stderr)
	var d dataFlags
	d.register(fs)
	file := fs.String("file", "", "index file to write (required)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	if err := cli.Require(fs, "file"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Building index from %s series...\n", cli.Thousands(d.series))
	b, err := buildGenerated(d.series, d.seed, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := b.ix.WriteFile(*file, nil); err != nil {
		return err
	}
	fi, err := os.Stat(*file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Built in %.2f s; wrote %s (%s) in %.2f s\n", b.elapsed.Seconds(), *file, mb(uint64(fi.Size())), time.Since(start).Seconds())
	return nil
}

func mb(n uint64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
