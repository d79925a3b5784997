package rollup

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage08-shards/shard"
)

func TestParseQuery(t *testing.T) {
	for _, c := range []struct {
		in, fn, metric string
		matchers       int
	}{
		{"avg(cpu_usage) WHERE host='server1'", "avg", "cpu_usage", 2},
		{"p99(cpu_usage)", "p99", "cpu_usage", 1},
		{"  P99.9 ( cpu.usage )  where host = \"a\" AND dc != 'eu' ", "p99.9", "cpu.usage", 3},
		{"count(x) WHERE a=''", "count", "x", 2},
		{"MAX(m)", "max", "m", 1},
	} {
		q, err := ParseQuery(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if q.Func.String() != c.fn || q.Metric != c.metric || len(q.Matchers) != c.matchers {
			t.Errorf("%q: %s(%s) %d matchers", c.in, q.Func, q.Metric, len(q.Matchers))
		}
	}
	for _, c := range []struct {
		in  string
		pos int
	}{
		{"", 0},
		{"median(cpu)", 0},
		{"p101(cpu)", 0},
		{"avg cpu", 4},
		{"avg(cpu", 7},
		{"avg(cpu) host='a'", 9},
		{"avg(cpu) WHERE host", 19},
		{"avg(cpu) WHERE host=a", 20},
		{"avg(cpu) WHERE host='a", 20},
		{"avg(cpu) WHERE host='a' OR b='c'", 24},
	} {
		_, err := ParseQuery(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Pos != c.pos {
			t.Errorf("%q: %v, want an error at %d", c.in, err, c.pos)
		}
	}
}

// FuzzParseQuery: any input parses or returns a ParseError inside the
// input, never panics; what parses re-parses from its parts.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"avg(cpu_usage) WHERE host='server1'", "p99(x) where a!=\"b\" and c='d'", "count(", "p(x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("%q: %v", s, err)
			}
			_ = pe.Caret(s)
			return
		}
		re := q.Func.String() + "(" + q.Metric + ")"
		for i, m := range q.Matchers[1:] {
			if strings.ContainsAny(m.Value(), `'"`) {
				return
			}
			kw := " WHERE "
			if i > 0 {
				kw = " AND "
			}
			op := "="
			if m.Type() == index.MatchNotEqual {
				op = "!="
			}
			re += kw + m.Name() + op + "'" + m.Value() + "'"
		}
		q2, err := ParseQuery(re)
		if err != nil || q2.Func != q.Func || q2.Metric != q.Metric || len(q2.Matchers) != len(q.Matchers) {
			t.Fatalf("%q → %q: %v", s, re, err)
		}
	})
}

// TestConcurrentWritesAndRuns: writers (in time and late) race the jobs
// under -race; afterwards every window equals the oracle: no late sample
// slipped between a job's read and its watermark.
func TestConcurrentWritesAndRuns(t *testing.T) {
	clk := newClock(t0.Add(26 * time.Hour))
	e := openEngine(t, t.TempDir(), clk, nil)
	defer e.Close()
	o := newOracle(4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Writer w owns series w: 6 h of samples every 15 s in
			// shuffled 10-minute batches, so many arrive after their
			// windows were rolled up.
			for b := range 36 {
				batch := (b*7 + w) % 36
				var s []model.Sample
				for t := t0.Add(time.Duration(batch) * 10 * time.Minute); t.Before(t0.Add(time.Duration(batch+1) * 10 * time.Minute)); t = t.Add(15 * time.Second) {
					s = append(s, model.Sample{T: t.UnixMilli(), V: dyadic(w, t.UnixMilli())})
				}
				if err := e.Write([]shard.Series{{Labels: o.lsets[w], Samples: s}}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				o.samples[w] = append(o.samples[w], s...)
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if _, err := e.Run(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	<-done
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkAllTiers(t, e, o, t0.UnixMilli())
}

// TestRunBetweenLateMarkAndWrite puts a Run exactly where a late write
// has marked its window dirty but not yet written the sample. The Run
// must wait for the write (or leave the mark): if it consumed the mark
// first, the window would be recomputed without the sample and never
// again.
func TestRunBetweenLateMarkAndWrite(t *testing.T) {
	clk := newClock(t0.Add(25 * time.Hour)) // every tier has a complete window
	e := openEngine(t, t.TempDir(), clk, nil)
	defer e.Close()
	o := newOracle(1)
	var s []model.Sample
	for ts := t0; ts.Before(t0.Add(2 * time.Hour)); ts = ts.Add(time.Minute) {
		s = append(s, model.Sample{T: ts.UnixMilli(), V: dyadic(0, ts.UnixMilli())})
	}
	if err := e.Write([]shard.Series{{Labels: o.lsets[0], Samples: s}}); err != nil {
		t.Fatal(err)
	}
	o.samples[0] = s
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}

	ran := make(chan error, 1)
	e.afterLateMark = func() {
		e.afterLateMark = nil
		go func() { _, err := e.Run(ctx); ran <- err }()
		// Give an unblocked Run ample time to finish here; a correct
		// one is still waiting for this write.
		select {
		case <-ran:
			ran <- nil
		case <-time.After(300 * time.Millisecond):
		}
	}
	late := model.Sample{T: t0.Add(30*time.Minute + 7*time.Second).UnixMilli(), V: 1000.25}
	if err := e.Write([]shard.Series{{Labels: o.lsets[0], Samples: []model.Sample{late}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	o.samples[0] = append(o.samples[0], late)
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkAllTiers(t, e, o, t0.UnixMilli())
}
