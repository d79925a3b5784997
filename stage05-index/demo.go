package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage05-index/index"
)

// The guide's three queries, then the regular expression of the targets.
var demoQueries = []struct{ q, note string }{
	{`region=us-east`, ""},
	{`region=us-east AND env=production`, "intersection of 2 postings lists"},
	{`region=us-east AND env=production AND service=api`, "intersection of 3 postings lists"},
	{`instance=~"host-.*7.*3"`, ""},
}

// cmdDemo builds the index, prints its stats, runs the guide's queries, then
// writes the index to a file and opens it again.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--series N] [--seed S] [--data-dir DIR]", stderr)
	var d dataFlags
	d.register(fs)
	dir := fs.String("data-dir", "", "directory for the index file (default: a new temp dir, removed afterwards)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "Building index from %s series...\n", cli.Thousands(d.series))
	b, err := buildGenerated(d.series, d.seed, stderr)
	if err != nil {
		return err
	}
	ix := b.ix
	fmt.Fprintf(stdout, "  built in %.2f s (%s series/s), %.0f bytes/series of heap\n",
		b.elapsed.Seconds(), cli.Thousands(int(float64(d.series)/b.elapsed.Seconds())), b.bytesPerSeries)

	st := ix.Stats(3)
	fmt.Fprintf(stdout, "\nIndex stats:\n")
	fmt.Fprintf(stdout, "  Unique tag keys: %d\n", st.LabelNames)
	fmt.Fprintf(stdout, "  Unique tag values: %s\n", cli.Thousands(st.LabelPairs))
	fmt.Fprintf(stdout, "  Index size: %s (bitmaps) + %s (series label references) + %s (strings)\n",
		mb(st.PostingsBytes), mb(st.SeriesBytes), mb(st.StringBytes))
	fmt.Fprintf(stdout, "  Most values: %s\n", countList(st.ValuesPerName))

	for _, q := range demoQueries {
		ms, err := index.ParseQuery(q.q)
		if err != nil {
			return err
		}
		n, med := timeQuery(ix, ms, 21)
		note := q.note
		if note == "" && ms[0].Type() == index.MatchRegexp {
			note = fmt.Sprintf("regex over %s values", cli.Thousands(len(ix.LabelValues(ms[0].Name()))))
		}
		if note != "" {
			note = " (" + note + ")"
		}
		fmt.Fprintf(stdout, "\nQuery: %s\n  Matching series: %s\n  Query time: %s%s\n", q.q, cli.Thousands(n), ms3(med), note)
	}

	// Throughput: the guide's three queries in turn, for about a second.
	var qs [][]*index.Matcher
	for _, q := range demoQueries[:3] {
		ms, _ := index.ParseQuery(q.q)
		qs = append(qs, ms)
	}
	count, start := 0, time.Now()
	for time.Since(start) < time.Second {
		for _, ms := range qs {
			ix.Select(ms...).ToArray()
			count++
		}
	}
	fmt.Fprintf(stdout, "\nThroughput: %s queries/second (the three queries in turn, one goroutine)\n",
		cli.Thousands(int(float64(count)/time.Since(start).Seconds())))

	// Persistence.
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "stage05-index-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*dir, "index.tsix")
	t0 := time.Now()
	if err := ix.WriteFile(path, nil); err != nil {
		return err
	}
	wrote := time.Since(t0)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	t0 = time.Now()
	back, err := index.Open(path)
	if err != nil {
		return err
	}
	opened := time.Since(t0)
	ms, _ := index.ParseQuery(demoQueries[2].q)
	same := slices.Equal(back.Select(ms...).ToArray(), ix.Select(ms...).ToArray())
	fmt.Fprintf(stdout, "\nIndex file: %s, %s (written in %s, opened in %s; same answers after opening: %v)\n",
		path, mb(uint64(fi.Size())), ms3(wrote), ms3(opened), same)
	if !same {
		return fmt.Errorf("the reopened index answers %s differently", demoQueries[2].q)
	}
	return nil
}

// timeQuery runs a query runs times and returns the match count and the
// median time (the machine is shared: single runs vary).
func timeQuery(ix *index.Index, ms []*index.Matcher, runs int) (int, time.Duration) {
	times := make([]time.Duration, runs)
	n := 0
	for i := range times {
		t0 := time.Now()
		n = len(ix.Select(ms...).ToArray())
		times[i] = time.Since(t0)
	}
	slices.Sort(times)
	return n, times[runs/2]
}

// ms3 formats a duration in milliseconds with 2-3 significant digits.
func ms3(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func countList(cs []index.Count) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s", c.Name, cli.Thousands(int(c.Count)))
	}
	return s
}
