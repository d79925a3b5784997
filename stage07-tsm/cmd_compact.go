package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage07-tsm/tsm"
)

func cmdCompact(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "compact", "--data-dir DIR [--full]", stderr)
	var ef engineFlags
	fs.StringVar(&ef.dir, "data-dir", "", "engine directory")
	full := fs.Bool("full", false, "merge every file into one and apply all tombstones (default: level compactions until none is due)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	if err := cli.ExistingDir(ef.dir); err != nil {
		return err
	}
	e, err := ef.open(stdout)
	if err != nil {
		return err
	}
	defer e.Close()
	before := e.Stats()
	n, err := compactAll(e, *full, stdout)
	if err != nil {
		return err
	}
	switch {
	case n == 0 && *full:
		fmt.Fprintln(stdout, "Nothing to compact: a full compaction needs two files or more, or tombstones to apply.")
	case n == 0:
		fmt.Fprintf(stdout, "Nothing to compact: a level compaction needs %d files of one level.\n", tsm.LevelCompactionFiles)
	}
	after := e.Stats()
	fmt.Fprintf(stdout, "Files: %d before, %d after\n", len(before.Files), len(after.Files))
	printFiles(stdout, after)
	return nil
}

// compactAll runs level compactions until none is due (or one full
// compaction) and prints each.
func compactAll(e *tsm.Engine, full bool, w io.Writer) (int, error) {
	n := 0
	for {
		st, err := e.Compact(full)
		if err != nil {
			return n, err
		}
		if len(st.Inputs) == 0 {
			return n, nil
		}
		n++
		printCompaction(w, st)
		if full {
			return n, nil
		}
	}
}

func printCompaction(w io.Writer, st tsm.CompactStats) {
	names := make([]string, len(st.Inputs))
	for i, f := range st.Inputs {
		names[i] = f.Name
	}
	kind := fmt.Sprintf("Level %d compaction", st.Inputs[0].Level)
	if st.Full {
		kind = "Full compaction"
	}
	fmt.Fprintf(w, "%s: %s\n", kind, strings.Join(names, " + "))
	if st.Output.Keys == 0 {
		fmt.Fprintln(w, "  → nothing left (everything deleted)")
		return
	}
	fmt.Fprintf(w, "  → %s (Level %d, %s, %s points, %.3f bytes/point) in %s\n", st.OutputName, st.Output.Level, mb(st.Output.Size),
		cli.Thousands(st.ValuesOut), float64(st.Output.Size)/float64(st.ValuesOut), cli.Duration(st.Duration))
	fmt.Fprintf(w, "  Read %s, wrote %s", mb(st.BytesRead), mb(st.Output.Size))
	if st.Tombstones > 0 {
		fmt.Fprintf(w, ", applied %d tombstones", st.Tombstones)
	}
	if d := st.ValuesIn - st.ValuesOut; d > 0 {
		fmt.Fprintf(w, ", dropped %s overwritten points", cli.Thousands(d))
	}
	fmt.Fprintln(w)
}
