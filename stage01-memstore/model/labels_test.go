package model

import (
	"errors"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestOrderDoesNotMatter(t *testing.T) {
	a, err := New(Label{MetricName, "cpu.usage"}, Label{"host", "server1"}, Label{"region", "us-east"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromMetric("cpu.usage", map[string]string{"region": "us-east", "host": "server1"})
	if err != nil {
		t.Fatal(err)
	}
	c := MustFromStrings("region", "us-east", MetricName, "cpu.usage", "host", "server1")
	for _, x := range []Labels{b, c} {
		if !a.Equal(x) || a.Hash() != x.Hash() || a.String() != x.String() || a.Compare(x) != 0 {
			t.Errorf("%v and %v differ", a, x)
		}
	}
	if got, want := a.String(), `cpu.usage{host="server1",region="us-east"}`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []Label
		want    string
		wantErr error
	}{
		{"empty", nil, "{}", nil},
		{"name only", []Label{{MetricName, "up"}}, "up", nil},
		{"no name", []Label{{"job", "x"}}, `{job="x"}`, nil},
		{"empty value dropped", []Label{{MetricName, "up"}, {"a", ""}, {"b", "1"}}, `up{b="1"}`, nil},
		{"quoting", []Label{{MetricName, "m"}, {"a", `x",b="y`}}, `m{a="x\",b=\"y"}`, nil},
		{"empty name", []Label{{"", "x"}}, "", ErrEmptyLabelName},
		{"duplicate", []Label{{"a", "1"}, {"a", "2"}}, "", ErrDuplicateLabelName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New(tc.in...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.String() != tc.want {
				t.Errorf("String() = %s, want %s", got.String(), tc.want)
			}
		})
	}
	if _, err := FromStrings("a"); !errors.Is(err, ErrOddArgs) {
		t.Errorf("FromStrings(odd) err = %v", err)
	}
	if _, err := FromMetric("m", map[string]string{MetricName: "n"}); !errors.Is(err, ErrDuplicateLabelName) {
		t.Errorf("FromMetric with __name__ tag err = %v", err)
	}
}

func TestNewDoesNotAliasInput(t *testing.T) {
	in := []Label{{"b", "2"}, {"a", "1"}}
	ls, _ := New(in...)
	in[0].Value = "changed"
	if ls.Get("b") != "2" {
		t.Fatal("label set changed when the caller's slice did")
	}
}

func TestHashSeparatesNamesAndValues(t *testing.T) {
	pairs := [][2]Labels{
		{MustFromStrings("ab", "c"), MustFromStrings("a", "bc")},
		{MustFromStrings("a", "1", "b", "2"), MustFromStrings("a", "1b", "b", "2")},
		{MustFromStrings("a", "1"), MustFromStrings("a", "2")},
	}
	for _, p := range pairs {
		if p[0].Hash() == p[1].Hash() {
			t.Errorf("%v and %v hash alike", p[0], p[1])
		}
	}
}

func TestContains(t *testing.T) {
	s := MustFromStrings(MetricName, "cpu", "host", "a", "region", "x")
	for _, tc := range []struct {
		sub  Labels
		want bool
	}{
		{Labels{}, true},
		{MustFromStrings(MetricName, "cpu"), true},
		{MustFromStrings("host", "a"), true},
		{MustFromStrings(MetricName, "cpu", "region", "x"), true},
		{s, true},
		{MustFromStrings("host", "b"), false},
		{MustFromStrings("zone", "a"), false},
		{MustFromStrings("aaa", "a"), false},
		{MustFromStrings(MetricName, "cpu", "host", "a", "region", "x", "zone", "1"), false},
	} {
		if got := s.Contains(tc.sub); got != tc.want {
			t.Errorf("%v.Contains(%v) = %v, want %v", s, tc.sub, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	// Sorted by hand: label by label, name then value, a prefix first.
	sorted := []Labels{
		{},
		MustFromStrings("a", "1"),
		MustFromStrings("a", "1", "b", "1"),
		MustFromStrings("a", "2"),
		MustFromStrings("b", "0"),
	}
	for i := range sorted {
		for j := range sorted {
			got := sorted[i].Compare(sorted[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", sorted[i], sorted[j], got, want)
			}
		}
	}
}

func TestWithWithout(t *testing.T) {
	s := MustFromStrings(MetricName, "cpu", "host", "a")
	w, err := s.With("zone", "z")
	if err != nil || w.String() != `cpu{host="a",zone="z"}` {
		t.Errorf("With = %v, %v", w, err)
	}
	if s.Has("zone") {
		t.Error("With changed the receiver")
	}
	if got := w.Without("host", MetricName).String(); got != `{zone="z"}` {
		t.Errorf("Without = %s", got)
	}
	if m := s.Map(); len(m) != 2 || m["host"] != "a" {
		t.Errorf("Map = %v", m)
	}
}

// TestHashIsXXHashOfTheStream: Hash is xxHash64 of name 0xff value 0xff …,
// whether the set fits Hash's stack buffer or spills into the streaming
// digest (values around and far past the buffer's size).
func TestHashIsXXHashOfTheStream(t *testing.T) {
	for _, n := range []int{0, 1, 50, 100, 117, 118, 119, 120, 200, 300, 1000} {
		ls := MustFromStrings("__name__", "m", "a", strings.Repeat("x", n), "b", strings.Repeat("y", n/2), "c", "z")
		var stream []byte
		for l := range ls.All() {
			stream = append(stream, l.Name...)
			stream = append(stream, 0xff)
			stream = append(stream, l.Value...)
			stream = append(stream, 0xff)
		}
		if got, want := ls.Hash(), xxhash.Sum64(stream); got != want {
			t.Fatalf("value length %d: Hash %x, xxhash of the stream %x", n, got, want)
		}
	}
}
