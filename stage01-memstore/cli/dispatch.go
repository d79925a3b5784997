package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Command is one subcommand of a stage's command line.
type Command struct {
	Name string
	Run  func(args []string, stdout, stderr io.Writer) error
}

// Dispatch runs a stage's command line and returns its exit status (see
// Exit). args[0] names the subcommand, which gets the remaining arguments.
// With no arguments, or when the first is a flag, the default command runs
// with all of them: `go run ./stageNN` and `go run ./stageNN --points 10`
// both run the demo. -h, -help, --help and help print usage to stdout.
func Dispatch(usage string, def Command, cmds []Command, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return Exit(def.Run(args, stdout, stderr), stderr)
	}
	names := make([]string, 0, len(cmds)+1)
	for _, c := range append([]Command{def}, cmds...) {
		if c.Name == args[0] {
			return Exit(c.Run(args[1:], stdout, stderr), stderr)
		}
		names = append(names, c.Name)
	}
	return Exit(Usagef("unknown command %q (want %s; -h for help)", args[0], strings.Join(names, ", ")), stderr)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

// IsTerminal reports whether r is an interactive terminal. REPLs print a
// prompt only then, so piped input gets only the answers, which scripts can
// parse.
func IsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Capture runs a program's run function (main without the process: args,
// stdout, stderr, exit status) with args and returns what it printed and
// its status: how the stages' tests drive their CLIs.
func Capture(run func(args []string, stdout, stderr io.Writer) int, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}
