package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/memstore"
	"github.com/tsdb-course/stage01-memstore/model"
)

// guideSession is the transcript of the guide's "Real world outcome", plus a
// query that matches two series to show how several are printed.
var guideSession = []string{
	"INSERT cpu.usage host=server1 region=us-east 1703001600 0.75",
	"INSERT cpu.usage host=server1 region=us-east 1703001610 0.82",
	"INSERT cpu.usage host=server2 region=us-west 1703001600 0.45",
	"QUERY cpu.usage{host=server1} FROM 1703001600 TO 1703001620",
	"QUERY cpu.usage FROM 1703001600 TO 1703001600",
}

// demo replays the guide's session, then loads a realistic data set (random
// walks at a 10 s interval, a fraction of points late) and measures it.
func demo(out, errOut io.Writer, points, nseries int, late float64) {
	s := newSession()
	fmt.Fprintln(out, "== The guide's session")
	for _, line := range guideSession {
		fmt.Fprintf(out, "> %s\n", line)
		if err := s.exec(line, out); err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
		}
	}

	metrics := []string{"cpu.usage", "mem.used", "disk.io", "net.rx"}
	regions := []string{"us-east", "us-west", "eu-west"}
	r := rand.New(rand.NewPCG(42, 1))
	handles := make([]*seriesGen, nseries)
	for i := range handles {
		ls := model.MustFromStrings(model.MetricName, metrics[i%len(metrics)],
			"host", fmt.Sprintf("host%03d", i/len(metrics)), "region", regions[(i/len(metrics))%len(regions)])
		mean := 20 + 60*r.Float64()
		handles[i] = &seriesGen{h: s.store.Series(ls), v: mean, mean: mean}
	}
	const t0, step = int64(1703001600), int64(10)
	per := points / nseries
	fmt.Fprintf(out, "\n== Loading %s points into %s series (%s per series, every %ds, %.0f%% arriving up to 5 min late)\n",
		cli.Thousands(per*nseries), cli.Thousands(nseries), cli.Thousands(per), step, late*100)

	// Generate first, then time only the inserts. Points are made in time
	// order; a late one then swaps its arrival with a point of the same series
	// up to 30 steps (5 minutes) later, so it arrives after newer points.
	type pt struct {
		h *memstore.Series
		t int64
		v float64
	}
	batch := make([]pt, 0, per*nseries)
	for k := range per {
		for _, g := range handles {
			// A mean-reverting random walk: slowly changing, realistic gauges.
			g.v += 0.05*(g.mean-g.v) + r.NormFloat64()
			batch = append(batch, pt{g.h, t0 + int64(k)*step, math.Round(g.v*100) / 100})
		}
	}
	for j := range batch {
		if r.Float64() < late {
			if k := j + nseries*(1+r.IntN(30)); k < len(batch) {
				batch[j], batch[k] = batch[k], batch[j]
			}
		}
	}
	prog := cli.NewProgress(errOut, "inserting", int64(len(batch)), cli.DefaultInterval)
	start := time.Now()
	for j, p := range batch {
		p.h.Append(p.t, p.v)
		if j&0xffff == 0xffff {
			prog.Add(0x10000)
		}
	}
	elapsed := time.Since(start)
	prog.Done()
	fmt.Fprintf(out, "Inserted %s points in %s (%s points/s)\n", cli.Thousands(len(batch)),
		elapsed.Round(time.Microsecond), cli.Thousands(int(float64(len(batch))/elapsed.Seconds())))

	fmt.Fprintln(out, "\n== Queries")
	end := t0 + int64(per-1)*step
	hourAgo := end - 3600 + step
	for _, line := range []string{
		fmt.Sprintf("QUERY cpu.usage{host=host000,region=us-east} FROM %d TO %d", end-50, end),
		fmt.Sprintf("QUERY cpu.usage{host=host000} FROM %d TO %d", hourAgo, end),
		fmt.Sprintf("QUERY cpu.usage{region=us-west} FROM %d TO %d", end-10, end),
		"STATS",
	} {
		fmt.Fprintf(out, "> %s\n", line)
		// Long answers are summarised: the point lines of a 1-hour range
		// would scroll the interesting part away.
		tw := &tail{w: out, keep: 8}
		if err := s.exec(line, tw); err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
		}
		tw.flush()
	}
}

type seriesGen struct {
	h    *memstore.Series
	v    float64 // current value of the random walk
	mean float64 // the value it drifts back to
}

// tail passes through the first keep lines and the last line of what is
// written, and counts the ones in between.
type tail struct {
	w       io.Writer
	keep    int
	lines   int
	pending []byte
	last    []byte
	skipped int
}

func (t *tail) Write(p []byte) (int, error) {
	for _, c := range p {
		t.pending = append(t.pending, c)
		if c != '\n' {
			continue
		}
		t.lines++
		switch {
		case t.lines <= t.keep:
			t.w.Write(t.pending)
		default:
			if t.last != nil {
				t.skipped++
			}
			t.last = append(t.last[:0], t.pending...)
		}
		t.pending = t.pending[:0]
	}
	return len(p), nil
}

// flush prints the summary of the skipped lines and the last line.
func (t *tail) flush() {
	if t.skipped > 0 {
		fmt.Fprintf(t.w, "... (%d more lines)\n", t.skipped)
	}
	if t.last != nil {
		t.w.Write(t.last)
	}
}
