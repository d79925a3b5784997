package text

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// TestDecode: a body through the pipeline stores, line by line, what
// ParseLine (the oracle) reads from each good line; bad lines are counted
// with their numbers; a line over a limit names it.
func TestDecode(t *testing.T) {
	body := `cpu_usage{host="server1",region="us-east"} 0.75 1703001600
# a comment

memory{host="a b}",q="x\"y"} 42
cpu_usage{host="server1",region="us-east"} 0.8 1703001610
bad{host=} 1
up 1 1703001600.5
up{} x
` + `many{a="1",b="2",c="3"} 1 5`
	sink := ingest.NewMemorySink()
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, err := p.Begin(context.Background(), ingest.Block)
	if err != nil {
		t.Fatal(err)
	}
	d := Decoder{Limits: ingest.Limits{MaxLabels: 3}}
	st := d.Decode(w, []byte(body), 99)
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string][]model.Sample{}
	for _, l := range []string{`cpu_usage{host="server1",region="us-east"} 0.75 1703001600`, `memory{host="a b}",q="x\"y"} 42`,
		`cpu_usage{host="server1",region="us-east"} 0.8 1703001610`, `up 1 1703001600.5`} {
		s, err := ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		if !s.HasTime {
			s.T = 99
		}
		want[s.Labels.String()] = append(want[s.Labels.String()], model.Sample{T: s.T, V: s.V})
	}
	got := sink.Series()
	if len(got) != len(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	for k, w := range want {
		if g := got[k]; len(g) != len(w) || g[0] != w[0] || g[len(g)-1] != w[len(w)-1] {
			t.Errorf("%s: %v, want %v", k, g, w)
		}
	}
	if st.Lines != 7 || st.Samples != 4 || st.Bad != 3 {
		t.Fatalf("stats %+v", st)
	}
	msgs := []string{"line 6:", "line 8:", "line 9: limit max-labels-per-series (3)"}
	for i, m := range msgs {
		if !strings.HasPrefix(st.Errors[i].Error(), m) {
			t.Errorf("error %d: %v, want %q…", i, st.Errors[i], m)
		}
	}
	if !errors.Is(st.Errors[2], ingest.ErrLimit) || !errors.Is(st.Errors[0], ErrSyntax) {
		t.Errorf("errors %v", st.Errors)
	}
}
