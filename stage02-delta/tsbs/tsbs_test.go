package tsbs

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "cpu,host=a,region=x usage_user=58i,usage_idle=1.5 1704067200000000000\n" +
		"cpu,host=b,region=x usage_user=3i,usage_idle=2 1704067200000000000\n" +
		"cpu,host=a,region=x usage_user=59i,usage_idle=1.25 1704067210000000000\n"
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d series, want 4", len(got))
	}
	s := got[0]
	if s.Labels.String() != `cpu_usage_user{host="a",region="x"}` {
		t.Errorf("first series %s", s.Labels)
	}
	if len(s.T) != 2 || s.T[0] != 1704067200000 || s.T[1] != 1704067210000 || s.V[0] != 58 || s.V[1] != 59 {
		t.Errorf("first series samples %v %v", s.T, s.V)
	}
	if got[1].Labels.Name() != "cpu_usage_idle" || got[1].V[1] != 1.25 {
		t.Errorf("second series %s %v", got[1].Labels, got[1].V)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"cpu usage=1i\n",
		"cpu usage=1i abc\n",
		"cpu usage 1\n",
		"cpu usage=x 1\n",
		"cpu,host usage=1 1\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Parse(%q) error = %v, want an error naming line 1", in, err)
		}
	}
}

func TestLoadCPUOnly(t *testing.T) {
	p, err := Path(CPUOnly)
	if err != nil {
		t.Fatal(err)
	}
	series, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	// 100 hosts x 10 fields, 6 h at 10 s (testdata/tsbs/README.md).
	if len(series) != 1000 {
		t.Fatalf("%d series, want 1000", len(series))
	}
	for _, s := range series {
		if len(s.T) != 2160 {
			t.Fatalf("%s: %d samples, want 2160", s.Labels, len(s.T))
		}
	}
}
