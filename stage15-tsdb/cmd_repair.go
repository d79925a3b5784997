package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage15-tsdb/config"
)

// cmdRepair is what to run when the server refuses a damaged data
// directory: it lists the damage (changing nothing) and, with --yes,
// repairs it as --storage.repair would. The server must be stopped.
func cmdRepair(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "repair", "--data-dir DIR [--yes]", stderr)
	dataDir := fs.String("data-dir", config.Default().DataDir, "data directory of a stopped server")
	yes := fs.Bool("yes", false, "repair (without it: only say what a repair would drop)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
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
		fmt.Fprintln(stdout, "Nothing was changed. To repair, dropping only the damage listed (damaged blocks are moved, never deleted):\n  stage15-tsdb repair --data-dir "+*dataDir+" --yes")
		return nil
	}
	if d, err = tsdb.Repair(*dataDir, tsdb.Options{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Repaired:\n  %s\n", strings.ReplaceAll(d.String(), "\n", "\n  "))
	return nil
}
