package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "inspect", "[--data-dir DIR] [--keys N] FILE.tsm", stderr)
	dir := fs.String("data-dir", "", "directory FILE is in (default: FILE as given)")
	nkeys := fs.Int("keys", 10, "index entries to dump (0: all)")
	pos, err := cli.Parse(fs, args, "FILE.tsm")
	if err != nil {
		return err
	}
	path := pos[0]
	if *dir != "" && !filepath.IsAbs(path) {
		path = filepath.Join(*dir, path)
	}
	r, err := tsm.OpenReader(path)
	if err != nil {
		return err
	}
	defer r.Close()
	type typeStats struct{ keys, blocks, values, bytes int }
	byType := map[tsm.Type]*typeStats{}
	minT, maxT := int64(1<<63-1), int64(-1<<63)
	var blockBytes int64
	fmt.Fprintf(stdout, "File: %s\nLevel: %d  Size: %s  Keys: %s\n", path, r.Level(), mb(r.Size()), cli.Thousands(r.KeyCount()))
	fmt.Fprintln(stdout, "Index:")
	for i := range r.KeyCount() {
		k, t, es, err := r.KeyAt(i)
		if err != nil {
			return err
		}
		ts := byType[t]
		if ts == nil {
			ts = &typeStats{}
			byType[t] = ts
		}
		ts.keys++
		n := 0
		for _, e := range es {
			_, cnt, err := tsm.BlockType(r.Block(e))
			if err != nil {
				return fmt.Errorf("key %q block at %d: %w", k, e.Offset, err)
			}
			ts.blocks++
			ts.values += cnt
			ts.bytes += int(e.Size)
			blockBytes += int64(e.Size)
			n += cnt
			minT, maxT = min(minT, e.MinTime), max(maxT, e.MaxTime)
		}
		if *nkeys == 0 || i < *nkeys {
			fmt.Fprintf(stdout, "  %6d  %s  %s  %d blocks, %s values\n", i, k, t, len(es), cli.Thousands(n))
			for j, e := range es {
				if j == 3 && len(es) > 4 {
					fmt.Fprintf(stdout, "          … %d more blocks\n", len(es)-3)
					break
				}
				fmt.Fprintf(stdout, "          block @%d  %d bytes  %s … %s\n", e.Offset, e.Size, fmtTime(e.MinTime), fmtTime(e.MaxTime))
			}
		} else if i == *nkeys {
			fmt.Fprintf(stdout, "  … %s more keys (--keys 0 for all)\n", cli.Thousands(r.KeyCount()-i))
		}
	}
	fmt.Fprintln(stdout, "Blocks by type:")
	total := 0
	for t := tsm.FloatType; t <= tsm.StringType; t++ {
		if s := byType[t]; s != nil {
			total += s.values
			fmt.Fprintf(stdout, "  %-8s %s keys, %s blocks, %s values, %s (%.3f bytes/value, %.0f values/block)\n", t, cli.Thousands(s.keys),
				cli.Thousands(s.blocks), cli.Thousands(s.values), mb(int64(s.bytes)), float64(s.bytes)/float64(s.values), float64(s.values)/float64(s.blocks))
		}
	}
	b := r.Bloom()
	fmt.Fprintf(stdout, "Time range: %s … %s\n", fmtTime(minT), fmtTime(maxT))
	fmt.Fprintf(stdout, "Bloom filter: %s bits, k=%d, %.0f%% of bits set (%.1f bits/key)\n", cli.Thousands(b.Bits()), b.K(), 100*b.FillRatio(), float64(b.Bits())/float64(max(1, r.KeyCount())))
	fmt.Fprintf(stdout, "Whole file: %.3f bytes/value (blocks %s, index+bloom+footer %s)\n", float64(r.Size())/float64(max(1, total)), mb(blockBytes), mb(r.Size()-blockBytes))
	if n := r.Tombstones().Len(); n > 0 {
		fmt.Fprintf(stdout, "Tombstones: %d (applied at read, removed by the next compaction)\n", n)
	}
	return nil
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }
