package lineprotocol

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tsdb-course/stage02-delta/tsbs"
)

// want is a point written out by hand, the oracle for the parse table.
type want struct {
	m      string
	tags   [][2]string
	fields []Field
	time   int64
	ts     bool
}

func f(k string, v Value) Field { return Field{Key: []byte(k), Value: v} }

func TestParse(t *testing.T) {
	cases := []struct {
		line string
		want want
	}{
		{`cpu value=1`, want{m: "cpu", fields: []Field{f("value", FloatValue(1))}}},
		{`cpu,host=a,region=eu usage=0.5,n=3i,u=7u,ok=t,s="hi" 1700000000000000000`,
			want{m: "cpu", tags: [][2]string{{"host", "a"}, {"region", "eu"}},
				fields: []Field{f("usage", FloatValue(0.5)), f("n", IntValue(3)), f("u", UintValue(7)), f("ok", BoolValue(true)), f("s", StringValue([]byte("hi")))},
				time:   1700000000000000000, ts: true}},
		{`m v=-1.5e3,w=-0 -42`, want{m: "m", fields: []Field{f("v", FloatValue(-1500)), f("w", FloatValue(math.Copysign(0, -1)))}, time: -42, ts: true}},
		{`m a=true,b=True,c=TRUE,d=f,e=F,g=false,h=False,i=FALSE`, want{m: "m", fields: []Field{
			f("a", BoolValue(true)), f("b", BoolValue(true)), f("c", BoolValue(true)), f("d", BoolValue(false)),
			f("e", BoolValue(false)), f("g", BoolValue(false)), f("h", BoolValue(false)), f("i", BoolValue(false))}}},
		// escapes in every section
		{`my\ cpu\,x,ho\ st=a\,b\=c fi\=eld="say \"hi\" \\ \n" 5`, want{m: "my cpu,x", tags: [][2]string{{"ho st", "a,b=c"}},
			fields: []Field{f("fi=eld", StringValue([]byte(`say "hi" \ \n`)))}, time: 5, ts: true}},
		// = needs no escape in a measurement; a backslash before a non-delimiter is literal
		{`a=b\x v=1`, want{m: `a=b\x`, fields: []Field{f("v", FloatValue(1))}}},
		// commas and spaces are plain inside strings
		{`m s="a, b c=1",t=2i`, want{m: "m", fields: []Field{f("s", StringValue([]byte("a, b c=1"))), f("t", IntValue(2))}}},
		// extremes of the integer types
		{`m a=-9223372036854775808i,b=9223372036854775807i,c=18446744073709551615u`, want{m: "m", fields: []Field{
			f("a", IntValue(math.MinInt64)), f("b", IntValue(math.MaxInt64)), f("c", UintValue(math.MaxUint64))}}},
		// trailing space and CR are accepted
		{"m v=1 10 \r", want{m: "m", fields: []Field{f("v", FloatValue(1))}, time: 10, ts: true}},
		{`m v=1   `, want{m: "m", fields: []Field{f("v", FloatValue(1))}}},
		{`m  v=.5`, want{m: "m", fields: []Field{f("v", FloatValue(0.5))}}},
		{`m s=""`, want{m: "m", fields: []Field{f("s", StringValue([]byte{}))}}},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			var p Point
			if err := Parse([]byte(c.line), &p); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			check(t, &p, c.want)
		})
	}
}

func check(t *testing.T, p *Point, w want) {
	t.Helper()
	if string(p.Measurement) != w.m {
		t.Errorf("measurement %q, want %q", p.Measurement, w.m)
	}
	if len(p.Tags) != len(w.tags) {
		t.Fatalf("%d tags, want %d", len(p.Tags), len(w.tags))
	}
	for i, tg := range p.Tags {
		if string(tg.Key) != w.tags[i][0] || string(tg.Value) != w.tags[i][1] {
			t.Errorf("tag %d = %q=%q, want %q=%q", i, tg.Key, tg.Value, w.tags[i][0], w.tags[i][1])
		}
	}
	if len(p.Fields) != len(w.fields) {
		t.Fatalf("%d fields, want %d", len(p.Fields), len(w.fields))
	}
	for i, fl := range p.Fields {
		if string(fl.Key) != string(w.fields[i].Key) || !fl.Value.Equal(w.fields[i].Value) {
			t.Errorf("field %d = %q=%v (%v), want %q=%v (%v)", i, fl.Key, fl.Value, fl.Value.Kind(), w.fields[i].Key, w.fields[i].Value, w.fields[i].Value.Kind())
		}
	}
	if p.HasTime != w.ts || p.Time != w.time {
		t.Errorf("time %d (%v), want %d (%v)", p.Time, p.HasTime, w.time, w.ts)
	}
}

// TestParseErrors checks the message and the column (counted by hand, 1-based)
// of each kind of mistake.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		line string
		col  int
		msg  string
	}{
		{``, 1, "empty line"},
		{` cpu v=1`, 1, "whitespace"},
		{`cpu`, 4, "expected a space before the fields, got end of line"},
		{`cpu `, 5, "expected a field"},
		{`,t=1 v=1`, 1, "expected measurement"},
		{`cpu,=a v=1`, 5, "expected tag key"},
		{`cpu,host v=1`, 9, "expected = after tag key"},
		{`cpu,host= v=1`, 10, "expected tag value"},
		{`cpu,host=a=b v=1`, 11, "unescaped = in tag value"},
		{`cpu v`, 6, "expected = after field key"},
		{`cpu v=`, 7, "expected a field value, got end of line"},
		{`cpu v=,w=1`, 7, "expected a field value"},
		{`cpu v=abc`, 7, "invalid field value"},
		{`cpu v=1x`, 7, "invalid field value"},
		{`cpu v=NaN`, 7, "invalid field value"},
		{`cpu v=Inf`, 7, "invalid field value"},
		{`cpu v=1e400`, 7, "invalid field value"},
		{`cpu v=0x10`, 7, "invalid field value"},
		{`cpu v=1.5i`, 7, "invalid integer"},
		{`cpu v=9223372036854775808i`, 7, "invalid integer"},
		{`cpu v=-1u`, 7, "invalid unsigned"},
		{`cpu v=tru`, 7, "invalid field value"},
		{`cpu v="abc`, 7, "unterminated string"},
		{`cpu v="a"b`, 10, `unexpected 'b' after string`},
		{`cpu v=1 12a`, 9, "invalid timestamp"},
		{`cpu v=1 12 13`, 12, "unexpected '1' after timestamp"},
		{`cpu v=1,`, 9, "expected field key, got end of line"},
		{`cpu v=1,w`, 10, "expected = after field key"},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			var p Point
			err := Parse([]byte(c.line), &p)
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, want a *SyntaxError", c.line, err)
			}
			if se.Column != c.col || !strings.Contains(se.Msg, c.msg) {
				t.Errorf("got column %d %q, want column %d containing %q", se.Column, se.Msg, c.col, c.msg)
			}
		})
	}
}

func TestDecoderLinesAndComments(t *testing.T) {
	in := "# header\n\ncpu v=1 1\r\n   \n  # indented comment\ncpu v=2 2\ncpu v=oops 3\ncpu v=4 4\n"
	d := NewDecoder(strings.NewReader(in))
	var p Point
	var got []float64
	for d.Next(&p) {
		got = append(got, p.Fields[0].Value.Float())
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("values %v, want [1 2]", got)
	}
	var se *SyntaxError
	if !errors.As(d.Err(), &se) || se.Line != 7 || se.Column != 7 {
		t.Fatalf("err %v, want line 7 column 7", d.Err())
	}
	if want := "line 7, column 7: invalid field value"; !strings.HasPrefix(se.Error(), want) {
		t.Errorf("message %q, want prefix %q", se.Error(), want)
	}
}

func TestDecoderLongLineAndNoFinalNewline(t *testing.T) {
	long := "m " + strings.Repeat("f=1,", 200_000) + "g=2i 7"
	d := NewDecoder(strings.NewReader("m v=1 1\n" + long))
	var p Point
	n := 0
	for d.Next(&p) {
		n++
	}
	if d.Err() != nil || n != 2 || len(p.Fields) != 200_001 || p.Time != 7 {
		t.Fatalf("n=%d fields=%d time=%d err=%v", n, len(p.Fields), p.Time, d.Err())
	}
}

// TestRoundTrip encodes hand-built points with awkward names and parses them back.
func TestRoundTrip(t *testing.T) {
	pts := []Point{
		{Measurement: []byte(`a b,c=d\e`), Tags: []Tag{{[]byte(`k ,=`), []byte(`v ,=\x`)}},
			Fields: []Field{f(`f ,=`, StringValue([]byte(`q"\"\`))), f("i", IntValue(-5)), f("u", UintValue(5)), f("b", BoolValue(false)), f("x", FloatValue(1e-300))},
			Time:   -1, HasTime: true},
		{Measurement: []byte("m"), Fields: []Field{f("v", FloatValue(math.MaxFloat64))}},
	}
	for _, p := range pts {
		b, err := AppendPoint(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		var q Point
		if err := Parse(b, &q); err != nil {
			t.Fatalf("Parse(%s): %v", b, err)
		}
		if !samePoint(&p, &q) {
			t.Fatalf("round trip of %s differs", b)
		}
	}
	for _, bad := range []Point{
		{Measurement: []byte("m"), Fields: []Field{f("v", FloatValue(math.NaN()))}},
		{Measurement: []byte(`m\`), Fields: []Field{f("v", FloatValue(1))}},
		{Measurement: []byte("#m"), Fields: []Field{f("v", FloatValue(1))}},
		{Measurement: []byte("m")},
		{Measurement: []byte("m"), Fields: []Field{f("v", StringValue([]byte("a\nb")))}},
	} {
		if _, err := AppendPoint(nil, &bad); !errors.Is(err, ErrUnencodable) {
			t.Errorf("AppendPoint(%q) = %v, want ErrUnencodable", bad.Measurement, err)
		}
	}
}

func samePoint(a, b *Point) bool {
	if !bytes.Equal(a.Measurement, b.Measurement) || len(a.Tags) != len(b.Tags) || len(a.Fields) != len(b.Fields) ||
		a.HasTime != b.HasTime || a.Time != b.Time {
		return false
	}
	for i := range a.Tags {
		if !bytes.Equal(a.Tags[i].Key, b.Tags[i].Key) || !bytes.Equal(a.Tags[i].Value, b.Tags[i].Value) {
			return false
		}
	}
	for i := range a.Fields {
		if !bytes.Equal(a.Fields[i].Key, b.Fields[i].Key) || !a.Fields[i].Value.Equal(b.Fields[i].Value) {
			return false
		}
	}
	return true
}

// FuzzParse: the parser never panics, and whatever it accepts it can write
// back and parse again to the same point.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`cpu,host=a,region=eu usage=0.5,n=3i,u=7u,ok=t,s="hi" 1700000000000000000`,
		`my\ cpu\,x,ho\ st=a\,b\=c fi\=eld="say \"hi\" \\ " 5`,
		`m v=-1.5e3,w=-0 -42`, `m s="a, b c=1",t=2i`, `cpu v="abc`, `cpu,host=a=b v=1`, `a=b\x v=1`,
		`m a=-9223372036854775808i,c=18446744073709551615u`, "m v=1 10 \r", `m v=1.`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var p Point
		if err := Parse(line, &p); err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		b, err := AppendPoint(nil, &p)
		if err != nil {
			if bytes.ContainsAny(line, "\n") {
				return // Parse takes one line; a raw newline is the caller's framing
			}
			t.Fatalf("parsed %q but cannot encode it: %v", line, err)
		}
		var q Point
		if err := Parse(b, &q); err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", b, line, err)
		}
		if !samePoint(&p, &q) {
			t.Fatalf("%q → %q parses differently", line, b)
		}
		// The key alone reads back to the same measurement and tags.
		var k Point
		if err := ParseKey(p.Key, &k); err != nil {
			t.Fatalf("ParseKey(%q) of %q: %v", p.Key, line, err)
		}
		k.Fields, k.Time, k.HasTime = p.Fields, p.Time, p.HasTime
		if !samePoint(&p, &k) {
			t.Fatalf("ParseKey(%q) differs from the line %q", p.Key, line)
		}
	})
}

// TestKey: Point.Key is the measurement and tag set as written, escapes
// kept, and ParseKey reads it back; a key with anything after the tags is
// refused.
func TestKey(t *testing.T) {
	for _, c := range []struct{ line, key, meas, tags string }{
		{`cpu,host=a,region=eu usage=0.5 1`, `cpu,host=a,region=eu`, "cpu", "host=a region=eu"},
		{`my\ cpu\,x,ho\ st=a\,b\=c f=1`, `my\ cpu\,x,ho\ st=a\,b\=c`, "my cpu,x", "ho st=a,b=c"},
		{"m v=1\r", "m", "m", ""},
	} {
		var p Point
		if err := Parse([]byte(c.line), &p); err != nil {
			t.Fatal(err)
		}
		if string(p.Key) != c.key {
			t.Errorf("%s: Key %q, want %q", c.line, p.Key, c.key)
		}
		var k Point
		if err := ParseKey(p.Key, &k); err != nil {
			t.Fatalf("ParseKey(%q): %v", p.Key, err)
		}
		var tags []string
		for _, tg := range k.Tags {
			tags = append(tags, string(tg.Key)+"="+string(tg.Value))
		}
		if string(k.Measurement) != c.meas || strings.Join(tags, " ") != c.tags || string(k.Key) != c.key {
			t.Errorf("ParseKey(%q) = %q %q, want %q %q", p.Key, k.Measurement, tags, c.meas, c.tags)
		}
	}
	var p Point
	for _, bad := range []string{"cpu,host=a f=1", "", "cpu,host", ",a=b"} {
		if err := ParseKey([]byte(bad), &p); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseKey(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

// tsbsPath is the path of a file of the repository's testdata/tsbs.
func tsbsPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := tsbs.Path(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestTSBSFiles parses the benchmark files whole; the counts come from the
// data README.
func TestTSBSFiles(t *testing.T) {
	for _, c := range []struct {
		name          string
		lines, fields int
	}{{tsbs.CPUOnly, 216_000, 2_160_000}, {tsbs.DevOps, 64_800, 727_200}} {
		fh, err := os.Open(tsbsPath(t, c.name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(zr)
		var p Point
		lines, fields := 0, 0
		prev := int64(math.MinInt64)
		for d.Next(&p) {
			lines++
			fields += len(p.Fields)
			if !p.HasTime || p.Time < prev {
				t.Fatalf("line %d: time %d after %d", d.Line(), p.Time, prev)
			}
			prev = p.Time
		}
		fh.Close()
		if d.Err() != nil || lines != c.lines || fields != c.fields {
			t.Errorf("%s: %d lines %d fields err %v, want %d %d", c.name, lines, fields, d.Err(), c.lines, c.fields)
		}
	}
}
