package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage05-index/index"
)

// cmdQuery opens or builds an index and answers queries from stdin.
func cmdQuery(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "query", "[--series N] [--seed S] [--file PATH]", stderr)
	var d dataFlags
	d.register(fs)
	file := fs.String("file", "", "index file: opened if it exists, else written after building")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	var ix *index.Index
	if _, err := os.Stat(*file); *file != "" && err == nil {
		t0 := time.Now()
		if ix, err = index.Open(*file); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "opened %s: %s series in %s\n", *file, cli.Thousands(ix.Len()), ms3(time.Since(t0)))
	} else {
		fmt.Fprintf(stderr, "building %s generated series...\n", cli.Thousands(d.series))
		b, err := buildGenerated(d.series, d.seed, stderr)
		if err != nil {
			return err
		}
		ix = b.ix
		if *file != "" {
			if err := ix.WriteFile(*file, nil); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote %s\n", *file)
		}
	}
	prompt := cli.IsTerminal(stdin)
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for {
		if prompt {
			fmt.Fprint(stdout, "query> ")
		}
		if !sc.Scan() {
			break
		}
		if !answer(ix, strings.TrimSpace(sc.Text()), stdout) {
			return nil
		}
	}
	return sc.Err()
}

// answer executes one REPL line; false means quit.
func answer(ix *index.Index, line string, w io.Writer) bool {
	cmd, arg, _ := strings.Cut(line, " ")
	switch strings.ToLower(cmd) {
	case "":
		return true
	case "quit", "exit":
		return false
	case "help":
		fmt.Fprint(w, "queries: region=us-east AND env!=production | metric{a=\"b\",c=~\"d.*\"}\ncommands: labels | values NAME | stats | quit\n")
		return true
	case "labels":
		fmt.Fprintln(w, strings.Join(ix.LabelNames(), " "))
		return true
	case "values":
		vs := ix.LabelValues(strings.TrimSpace(arg))
		more := ""
		if len(vs) > 20 {
			vs, more = vs[:20], " …"
		}
		fmt.Fprintf(w, "%s values: %s%s\n", cli.Thousands(len(ix.LabelValues(strings.TrimSpace(arg)))), strings.Join(vs, " "), more)
		return true
	case "stats":
		st := ix.Stats(5)
		fmt.Fprintf(w, "series %s, label names %d, label values %s, bitmaps %s\n", cli.Thousands(st.Series), st.LabelNames, cli.Thousands(st.LabelPairs), mb(st.PostingsBytes))
		fmt.Fprintf(w, "most values: %s\nlargest postings: %s\n", countList(st.ValuesPerName), countList(st.SeriesPerPair))
		return true
	}
	ms, err := index.ParseQuery(line)
	if err != nil {
		var pe *index.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(w, "error: %v\n  %s\n", err, strings.ReplaceAll(pe.Caret(), "\n", "\n  "))
		} else {
			fmt.Fprintf(w, "error: %v\n", err)
		}
		return true
	}
	t0 := time.Now()
	ids := ix.Select(ms...).ToArray()
	took := time.Since(t0)
	fmt.Fprintf(w, "Matching series: %s\nQuery time: %s\n", cli.Thousands(len(ids)), ms3(took))
	for i, id := range ids {
		if i == 3 {
			fmt.Fprintf(w, "  …\n")
			break
		}
		ls, _ := ix.Labels(id)
		fmt.Fprintf(w, "  %d %s\n", id, ls)
	}
	return true
}
