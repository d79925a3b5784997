package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage14-alerts/ruletest"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// cmdCheck is `check rules [FILE...]`, promtool's.
func cmdCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rules" {
		return cli.Exit(cli.Usagef("check: want \"check rules [FILE...]\"; -h for help"), stderr)
	}
	fs := cli.NewFlags(prog, "check rules", "[--lint duplicate-rules|none] [--lint-fatal] [--ignore-unknown-fields] [FILE...]", stderr)
	lint := fs.String("lint", "duplicate-rules", "lint checks: duplicate-rules, all or none")
	fatal := fs.Bool("lint-fatal", false, "exit 3 on lint problems")
	ignore := fs.Bool("ignore-unknown-fields", false, "skip unknown fields of the rule files")
	files, err := parseFiles(fs, args[1:])
	if err != nil {
		return cli.Exit(err, stderr)
	}
	opts := ruletest.CheckOptions{LintFatal: *fatal, IgnoreUnknownFields: *ignore, Prog: prog}
	switch *lint {
	case "none":
		opts.NoLint = true
	case "duplicate-rules", "all":
	default:
		fmt.Fprintf(stdout, "WARNING: unknown lint option: %q\n", *lint)
	}
	return ruletest.CheckRules(stdin, stdout, stderr, opts, files...)
}

// parseFiles parses flags anywhere among any number (zero included) of
// file arguments.
func parseFiles(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	out := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(out)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				fs.Usage()
				return nil, err
			}
			return nil, cli.Usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return files, nil
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// cmdTest is `test rules FILE...`, promtool's.
func cmdTest(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rules" {
		return cli.Exit(cli.Usagef("test: want \"test rules FILE...\"; -h for help"), stderr)
	}
	fs := cli.NewFlags(prog, "test rules", "[--run REGEX]... FILE...", stderr)
	var run repeated
	fs.Var(&run, "run", "only test groups whose name matches the regular expression (repeatable)")
	files, err := cli.Parse(fs, args[1:], "FILE...")
	if err != nil {
		return cli.Exit(err, stderr)
	}
	return ruletest.TestRules(stdout, stderr, ruletest.TestOptions{Run: run, Prog: prog}, files...)
}
