// Package tsbs loads the TSBS benchmark files kept in the repository's
// testdata/tsbs (see the README there) as series of samples, for the realistic-data tests and benchmarks of
// the compression stages.
//
// Series naming follows the data README: one series per (measurement, tag set,
// field), named <measurement>_<field> with the tags as labels. Timestamps are
// converted from the file's nanoseconds to milliseconds, the unit of every
// later stage.
//
// This is a reader for the subset of InfluxDB line protocol that TSBS writes
// (no escaped characters, no quoted string fields); the full parser is a
// later stage's lesson.
package tsbs

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Files in testdata/tsbs at the repository root.
const (
	CPUOnly = "tsbs-cpu-only-100h-6h.influx.gz"
	DevOps  = "tsbs-devops-10h-2h.influx.gz"
)

// ErrNoData means no testdata/tsbs folder holding the file was found in the
// working directory or any of its parents.
var ErrNoData = errors.New("tsbs: testdata/tsbs not found in this directory or a parent (run from inside the repository)")

// Series is one loaded series with its samples in file order.
type Series struct {
	Labels model.Labels
	T      []int64
	V      []float64
}

// Path finds a data file: testdata/tsbs/name in the working directory or the
// nearest parent that has it, so it works from the repository root, from a
// stage's module directory (GOWORK=off) and from a package directory (go test).
func Path(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("tsbs: %w", err)
	}
	for {
		p := filepath.Join(dir, "testdata", "tsbs", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: %s", ErrNoData, name)
		}
		dir = parent
	}
}

// Load reads a (gzipped, if the name ends in .gz) line-protocol file and
// returns its series in order of first appearance.
func Load(path string) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("tsbs: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	return Parse(r)
}

// Parse reads line protocol from r.
func Parse(r io.Reader) ([]Series, error) {
	var out []Series
	index := map[string]int{} // "<measurement>,<tags> <field>" -> position in out
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		key, fields, tsText, ok := split3(text)
		if !ok {
			return nil, fmt.Errorf("tsbs: line %d: expected \"<measurement>[,tags] <fields> <timestamp>\"", line)
		}
		ns, err := strconv.ParseInt(tsText, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("tsbs: line %d: timestamp %q: %w", line, tsText, err)
		}
		ms := ns / 1e6
		for field := range strings.SplitSeq(fields, ",") {
			name, val, ok := strings.Cut(field, "=")
			if !ok {
				return nil, fmt.Errorf("tsbs: line %d: field %q has no '='", line, field)
			}
			v, err := strconv.ParseFloat(strings.TrimSuffix(val, "i"), 64)
			if err != nil {
				return nil, fmt.Errorf("tsbs: line %d: field %s: %w", line, name, err)
			}
			id := key + " " + name
			i, seen := index[id]
			if !seen {
				ls, err := seriesLabels(key, name)
				if err != nil {
					return nil, fmt.Errorf("tsbs: line %d: %w", line, err)
				}
				i = len(out)
				index[id] = i
				out = append(out, Series{Labels: ls})
			}
			out[i].T = append(out[i].T, ms)
			out[i].V = append(out[i].V, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tsbs: line %d: %w", line+1, err)
	}
	return out, nil
}

func split3(s string) (a, b, c string, ok bool) {
	a, rest, ok1 := strings.Cut(s, " ")
	b, c, ok2 := strings.Cut(rest, " ")
	return a, b, c, ok1 && ok2 && a != "" && b != "" && c != ""
}

func seriesLabels(key, field string) (model.Labels, error) {
	parts := strings.Split(key, ",")
	pairs := []model.Label{{Name: model.MetricName, Value: parts[0] + "_" + field}}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return model.Labels{}, fmt.Errorf("tag %q has no '='", p)
		}
		pairs = append(pairs, model.Label{Name: k, Value: v})
	}
	return model.New(pairs...)
}
