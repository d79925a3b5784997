package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// UsageError is bad command-line input: wrong arguments, unknown flags or
// subcommands. Exit maps it to status 2, as the flag package does.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usagef builds a UsageError.
func Usagef(format string, a ...any) error { return UsageError{fmt.Sprintf(format, a...)} }

// ErrReported is returned by a command that has already printed why it
// failed (a "Verification: FAILED" line, say): Exit prints nothing more and
// returns 1.
var ErrReported = errors.New("failure already reported")

// NewFlags returns a flag set for "prog name" whose -h prints
// "usage: prog name synopsis" and the flags to w, and whose errors come back
// from Parse instead of exiting.
func NewFlags(prog, name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s %s\n", prog, name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses flags wherever they stand among the positional arguments (the
// flag package alone stops at the first positional one, so "compress in out
// --window 1h" would silently ignore the flag) and checks that exactly the
// named positional arguments were given (none, when no names are given). A
// last name ending in "..." (FILE...) takes one or more arguments. -h returns flag.ErrHelp after
// printing the usage; everything else wrong returns a UsageError.
func Parse(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	out := fs.Output()
	fs.SetOutput(io.Discard) // Parse's own error lines would duplicate ours
	defer fs.SetOutput(out)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				fs.Usage()
				return nil, err
			}
			return nil, Usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if n := len(names); n > 0 && strings.HasSuffix(names[n-1], "...") {
		if len(pos) < n {
			return nil, Usagef("%s: want at least %d argument(s) %v, got %d; -h for help", fs.Name(), n, names, len(pos))
		}
		return pos, nil
	}
	switch {
	case len(names) == 0 && len(pos) > 0:
		return nil, Usagef("%s: unexpected argument %q; -h for help", fs.Name(), pos[0])
	case len(pos) != len(names):
		return nil, Usagef("%s: want %d argument(s) %v, got %d; -h for help", fs.Name(), len(names), names, len(pos))
	}
	return pos, nil
}

// Exit turns a command's result into an exit status, printing one
// "error: …" line to stderr for failures: 0 for nil and -h, 2 for usage
// errors, 1 for the rest.
func Exit(err error, stderr io.Writer) int {
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrReported):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	return 1
}

// Require checks that the named flags of fs were given a non-empty value,
// for flags that have no sensible default (--data-dir of a command that
// works on existing data): "recover: --data-dir is required".
func Require(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f == nil || f.Value.String() == "" {
			return Usagef("%s: --%s is required", fs.Name(), n)
		}
	}
	return nil
}

// ErrNoDir is what ExistingDir wraps for a directory that is not there.
var ErrNoDir = errors.New("no such directory")

// ExistingDir returns an error naming dir unless it is an existing
// directory. Commands that work on data already written (query, status,
// inspect, compact) call it before opening a store, which would otherwise
// create an empty directory and report on nothing: a mistyped path must be
// an error, not an empty answer.
func ExistingDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data directory %s: %w", dir, ErrNoDir)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s: not a directory", dir)
	}
	return nil
}
