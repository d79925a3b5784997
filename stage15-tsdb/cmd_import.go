package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/text"
	"github.com/tsdb-course/stage15-tsdb/client"
)

// cmdImport streams a file to the server by remote write: the guide's text
// lines, or InfluxDB line protocol (.influx), optionally gzipped (.gz).
func cmdImport(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "import", "--file X[.influx][.gz] [--format text|influx] [--addr HOST:PORT]", stderr)
	cf := addClientFlags(fs)
	*cf.timeout = time.Hour
	file := fs.String("file", "", "the file to import (- for stdin)")
	format := fs.String("format", "", "text (metric{labels} value [unix s]) or influx (line protocol); default: from the file name")
	batch := fs.Int("batch", 2000, "samples per remote-write request")
	conc := fs.Int("concurrency", 4, "requests in flight (series are spread over the senders, so each series stays in order)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "file"); err != nil {
		return err
	}
	name := strings.TrimSuffix(*file, ".gz")
	if *format == "" {
		*format = "text"
		if strings.HasSuffix(name, ".influx") || strings.HasSuffix(name, ".lp") {
			*format = "influx"
		}
	}
	if *format != "text" && *format != "influx" {
		return cli.Usagef("--format: want text or influx, got %q", *format)
	}
	if *batch < 1 || *conc < 1 {
		return cli.Usagef("--batch and --concurrency must be at least 1")
	}
	var in io.Reader = os.Stdin
	var size int64
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		in = f
	}
	read := &countingReader{r: in}
	in = read
	if strings.HasSuffix(*file, ".gz") {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		in = zr
	}
	c, err := client.New(*cf.addr, client.Options{BatchSamples: *batch})
	if err != nil {
		return cli.Usagef("--addr: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *cf.timeout)
	defer cancel()

	start := time.Now()
	bar := cli.NewProgress(stderr, "importing "+*file+" (bytes read)", size, cli.DefaultInterval)
	stopProg := make(chan struct{})
	progDone := make(chan struct{})
	go func() { // feed the progress from the bytes read
		defer close(progDone)
		var last int64
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopProg:
				bar.Add(read.n.Load() - last)
				return
			case <-t.C:
				n := read.n.Load()
				bar.Add(n - last)
				last = n
			}
		}
	}()
	w := c.NewWriter(ctx, *conc, nil)
	var st importStats
	if *format == "influx" {
		err = importInflux(in, w, &st)
	} else {
		err = importText(in, w, &st)
	}
	cerr := w.Close()
	close(stopProg)
	<-progDone
	bar.Done()
	if err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	acked := w.Acked()
	if err != nil {
		return fmt.Errorf("%w (%s samples of %s lines acknowledged before it)", err, cli.Thousands(int(acked)), cli.Thousands(st.lines))
	}
	fmt.Fprintf(stdout, "imported %s samples from %s lines of %s in %s: %s samples/s",
		cli.Thousands(int(acked)), cli.Thousands(st.lines), *file, cli.Duration(elapsed), cli.Rate(float64(acked)/elapsed.Seconds()))
	if st.skipped > 0 {
		fmt.Fprintf(stdout, " (%s string fields skipped)", cli.Thousands(st.skipped))
	}
	fmt.Fprintln(stdout)
	return nil
}

type importStats struct {
	lines, skipped int
}

func importInflux(in io.Reader, w *client.Writer, st *importStats) error {
	d := lineprotocol.NewDecoder(in)
	conv := influx.NewConverter()
	now := time.Now().UnixMilli()
	var p lineprotocol.Point
	for d.Next(&p) {
		st.lines = d.Line()
		n, err := conv.Convert(&p, now, w.Append)
		st.skipped += n
		if err != nil {
			return fmt.Errorf("line %d: %w", d.Line(), err)
		}
	}
	if err := d.Err(); err != nil {
		var se *lineprotocol.SyntaxError
		if errors.As(err, &se) {
			return cli.Usagef("%v", err)
		}
		return err
	}
	return nil
}

func importText(in io.Reader, w *client.Writer, st *importStats) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	now := time.Now().UnixMilli()
	cache := map[string]model.Labels{} // the series part of a line -> its labels
	for sc.Scan() {
		st.lines++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := text.ParseLine(line)
		if err != nil {
			return cli.Usagef("line %d: %v", st.lines, strings.TrimPrefix(err.Error(), text.ErrSyntax.Error()+": "))
		}
		if !s.HasTime {
			s.T = now
		}
		lset := s.Labels
		if key := seriesPart(line); key != "" {
			if l, ok := cache[key]; ok {
				lset = l // share one label set per series
			} else if len(cache) < 1_000_000 {
				cache[key] = lset
			}
		}
		if err := w.Append(lset, s.T, s.V); err != nil {
			return err
		}
	}
	return sc.Err()
}

// seriesPart is the text before a line's value: `metric{labels}`.
func seriesPart(line string) string {
	if i := strings.LastIndexByte(line, '}'); i >= 0 {
		return line[:i+1]
	}
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		return line[:i]
	}
	return ""
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
