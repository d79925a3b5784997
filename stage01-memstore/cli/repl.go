package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrQuit, returned by a REPL command, ends the session without an error.
var ErrQuit = errors.New("quit")

// REPLOptions say how a REPL talks to its user.
type REPLOptions struct {
	// Prompt is printed before each line when Interactive is set.
	Prompt string
	// Interactive is set when input comes from a person (see IsTerminal).
	Interactive bool
	// Echo prints piped input lines (not blank lines or # comments) after the
	// prompt, so that the output of `printf '...' | go run ./stageNN` reads
	// like a session.
	Echo bool
}

// REPL runs exec on each line of in until the input ends or exec returns
// ErrQuit. Any other error is printed as "error: …" and the session goes on:
// one bad line never ends a session or touches what is stored. Output is
// buffered and flushed before each prompt, so piped runs stay fast.
func REPL(in io.Reader, out io.Writer, opt REPLOptions, exec func(line string, w io.Writer) error) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	w := bufio.NewWriter(out)
	defer w.Flush()
	for {
		if opt.Interactive {
			fmt.Fprint(w, opt.Prompt)
			w.Flush()
		}
		if !sc.Scan() {
			return sc.Err()
		}
		line := sc.Text()
		if t := strings.TrimSpace(line); opt.Echo && !opt.Interactive && t != "" && !strings.HasPrefix(t, "#") {
			fmt.Fprintf(w, "%s%s\n", opt.Prompt, line)
		}
		err := exec(line, w)
		if errors.Is(err, ErrQuit) {
			return nil
		}
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
		}
	}
}
