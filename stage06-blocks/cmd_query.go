package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

func cmdQuery(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "query", "'<selector>[range]' --data-dir DIR [--at T]", stderr)
	dataDir := fs.String("data-dir", "", "the DB directory (required)")
	at := fs.String("at", "", "evaluation time: unix seconds, RFC 3339 or ms (default: the newest sample)")
	pos, err := cli.Parse(fs, args, "selector")
	if err != nil {
		return err
	}
	if *dataDir == "" {
		return cli.Usagef("--data-dir is required")
	}
	if err := cli.ExistingDir(*dataDir); err != nil {
		return err
	}
	db, err := tsdb.Open(*dataDir, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		return err
	}
	defer db.Close()
	t := db.Head().MaxTime()
	for _, b := range db.Blocks() {
		t = max(t, b.MaxTime-1)
	}
	if *at != "" {
		if t, err = parseTime(*at); err != nil {
			return cli.Usagef("--at: %v", err)
		}
	} else if t == math.MinInt64 {
		return fmt.Errorf("%s holds no samples: nothing to query (ingest first, or give --at)", *dataDir)
	}
	return printQuery(stdout, db, pos[0], t, true)
}

// parseTime reads unix seconds, milliseconds (13+ digits) or RFC 3339.
func parseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if len(s) >= 13 {
			return n, nil
		}
		return n * 1000, nil
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not unix seconds, ms or RFC 3339", s)
	}
	return tm.UnixMilli(), nil
}

// parseRangeSelector splits `sel[5m]` into matchers and a range in ms.
func parseRangeSelector(s string) ([]*index.Matcher, int64, error) {
	s = strings.TrimSpace(s)
	rng := int64(0)
	if strings.HasSuffix(s, "]") {
		i := strings.LastIndex(s, "[")
		if i < 0 {
			return nil, 0, fmt.Errorf("unbalanced ']' in %q", s)
		}
		d, err := parseDuration(s[i+1 : len(s)-1])
		if err != nil {
			return nil, 0, err
		}
		rng, s = d, s[:i]
	}
	ms, err := index.ParseSelector(s)
	return ms, rng, err
}

// parseDuration reads Prometheus durations: 30s, 5m, 2h, 1d, 1w, 1h30m.
func parseDuration(s string) (int64, error) {
	units := map[byte]int64{'s': 1000, 'm': 60_000, 'h': 3_600_000, 'd': 86_400_000, 'w': 7 * 86_400_000}
	var total int64
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		n, _ := strconv.ParseInt(rest[:i], 10, 64)
		if rest[i] == 'm' && i+1 < len(rest) && rest[i+1] == 's' {
			total += n
			rest = rest[i+2:]
			continue
		}
		u, ok := units[rest[i]]
		if !ok {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		total += n * u
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return total, nil
}

// printQuery evaluates a (range) selector at t and prints the guide's
// query report; verbose lists the series too.
func printQuery(w io.Writer, db *tsdb.DB, sel string, t int64, verbose bool) error {
	ms, rng, err := parseRangeSelector(sel)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	mint := t - rng + 1
	if rng == 0 {
		mint = t - 5*tsdb.Minute + 1 // an instant selector looks back 5 minutes, as in PromQL
	}
	fmt.Fprintf(w, "> %s   (at %d)\n", sel, t/1000)
	start := time.Now()
	q, err := db.Querier(mint, t)
	if err != nil {
		return err
	}
	defer q.Close()
	ss := q.Select(ms...)
	var it tsdb.Iterator
	var series, samples int
	var lines []string
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		n := 0
		var lastT int64 = math.MinInt64
		var lastV float64
		var last string // the last sample, when it is a histogram
		hi, _ := it.(tsdb.HistogramIterator)
		for it.Next() {
			lastT, lastV = it.At()
			last = ""
			if hi != nil && hi.Type() != tsdb.ValFloat {
				_, fh := hi.AtFloatHistogram(nil)
				last = fmt.Sprintf("histogram{count=%g sum=%g}", fh.Count, fh.Sum)
			}
			n++
		}
		if err := it.Err(); err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if rng == 0 {
			n = 1
		}
		series++
		samples += n
		if verbose && len(lines) < 20 {
			if last == "" {
				last = fmt.Sprintf("%g", lastV)
			}
			lines = append(lines, fmt.Sprintf("  %s  %d samples, last %s @%d", s.Labels(), n, last, lastT/1000))
		}
	}
	if err := ss.Err(); err != nil {
		return err
	}
	el := time.Since(start)
	st := q.(tsdb.StatsQuerier).Stats()
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if verbose && series > len(lines) {
		fmt.Fprintf(w, "  … %s more series\n", cli.Thousands(series-len(lines)))
	}
	head := ""
	if st.Head {
		head = " + head"
	}
	fmt.Fprintf(w, "Scanned: %d block%s%s, %s chunks\n", st.Blocks, plural(st.Blocks), head, cli.Thousands(st.Chunks))
	fmt.Fprintf(w, "Returned: %s samples (%s series)\n", cli.Thousands(samples), cli.Thousands(series))
	fmt.Fprintf(w, "Query time: %s\n", cli.Duration(el))
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
