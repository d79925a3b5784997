package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// cmdRepair lists the damage in a data directory (what Open would refuse or
// move aside) and, with --yes, repairs it: damaged WAL bytes cut out, empty
// files in place of missing ones, damaged blocks moved into corrupted/.
func cmdRepair(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "repair", "--data-dir DIR [--yes]", stderr)
	dataDir := fs.String("data-dir", "", "the DB directory (required); no DB may be open on it")
	yes := fs.Bool("yes", false, "repair (without it: only say what a repair would drop)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		return cli.Usagef("--data-dir is required")
	}
	if _, err := os.Stat(*dataDir); err != nil {
		return err
	}
	d, err := tsdb.Check(*dataDir, tsdb.Options{})
	if err != nil {
		return err
	}
	if len(d.WAL.Problems) == 0 && len(d.Blocks) == 0 {
		fmt.Fprintln(stdout, "No damage found.")
		return nil
	}
	fmt.Fprintf(stdout, "Damage in %s:\n  %s\n", *dataDir, strings.ReplaceAll(d.String(), "\n", "\n  "))
	if !*yes {
		fmt.Fprintln(stdout, "Nothing was changed. Run again with --yes to repair: the damage listed is dropped (damaged blocks are moved, not deleted), nothing else.")
		return nil
	}
	if d, err = tsdb.Repair(*dataDir, tsdb.Options{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Repaired:\n  %s\n", strings.ReplaceAll(d.String(), "\n", "\n  "))
	return nil
}
