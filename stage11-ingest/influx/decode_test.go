package influx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// FuzzDecode: any body decodes without panicking; a refused line adds no
// point (the points added are exactly the values counted), and each error
// is a line's syntax, limit or timestamp error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"cpu,host=a usage=1,idle=2i,ok=t,s=\"x\" 1000\nbad line\n# c\n\nm v=1u",
		"m,t=" + string(make([]byte, 300)) + " v=1", "m v=1 99999999999999999", "m\\ x,a\\,b=c\\=d f\\ g=1.5e3 -5\r\n",
	} {
		f.Add([]byte(s), int64(1e9))
	}
	// No flusher runs beside the target (writes are aborted, MaxAge long).
	p, err := ingest.New(ingest.Discard{}, ingest.Options{MaxAge: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, prec int64) {
		precs := []Precision{Nanosecond, Microsecond, Millisecond, Second, Minute, Hour}
		pr := precs[uint64(prec)%uint64(len(precs))]
		w, err := p.Begin(context.Background(), ingest.Block)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		d := Decoder{Limits: ingest.Limits{MaxLineBytes: 200, MaxLabels: 5}}
		st := d.Decode(w, body, pr, 0)
		if w.Points() != st.Values {
			t.Fatalf("%d points added, %d values counted", w.Points(), st.Values)
		}
		for _, e := range st.Errors {
			var le *LineError
			if !errors.As(e, &le) {
				t.Fatalf("error %v is not a LineError", e)
			}
		}
		if st.Bad > st.Lines {
			t.Fatalf("stats %+v", st)
		}
		// With a KeySet, twice (the second time every accepted key is
		// known): the same lines accepted, the same values, the same errors.
		keys := NewKeySet(100)
		for range 2 {
			before := w.Points()
			dk := Decoder{Limits: d.Limits, Keys: keys}
			sk := dk.Decode(w, body, pr, 0)
			if sk.Lines != st.Lines || sk.Values != st.Values || sk.Strings != st.Strings || sk.Bad != st.Bad ||
				fmt.Sprint(sk.Errors) != fmt.Sprint(st.Errors) || w.Points()-before != st.Values {
				t.Fatalf("with known keys %+v, without %+v", sk, st)
			}
		}
	})
}

// TestKnownKeys: a decoder with a KeySet stores what one without does, the
// first time (keys unknown) and the next (known): the same series, values
// and errors, a line over a limit refused both times.
func TestKnownKeys(t *testing.T) {
	body := []byte("cpu,host=a,dc=x usage=1,idle=2i,ok=t,s=\"x\" 1000\n" +
		"cpu,host=a,dc=x usage=3,idle=4i 2000\n" +
		"cpu,host=a,dc=x usage=oops 3000\n" + // a known key, a bad field
		"cpu,host=b,dc=x,t1=1,t2=2,t3=3,t4=4,t5=5 usage=5 4000\n" + // over MaxLabels, twice
		"m\\ x,a\\,b=c v=1 5000\n" + // escaped: never the fast path
		"cpu,host=a,dc=x usage=6\n")
	lim := ingest.Limits{MaxLabels: 5}
	run := func(keys *KeySet) (map[string][]model.Sample, []Stats) {
		sink := ingest.NewMemorySink()
		p, err := ingest.New(sink, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var sts []Stats
		for i := range 3 {
			w, err := p.Begin(context.Background(), ingest.Block)
			if err != nil {
				t.Fatal(err)
			}
			d := Decoder{Limits: lim, Keys: keys}
			sts = append(sts, d.Decode(w, body, Millisecond, int64(9000+i)))
			if _, err := w.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		return sink.Series(), sts
	}
	keys := NewKeySet(100)
	want, wantSt := run(nil)
	got, gotSt := run(keys)
	if keys.Len() != 2 {
		t.Errorf("%d keys known, want 2 (cpu,host=a,dc=x and the escaped one)", keys.Len())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with known keys:\n%v\nwithout:\n%v", got, want)
	}
	for i := range wantSt {
		if fmt.Sprintf("%+v", gotSt[i]) != fmt.Sprintf("%+v", wantSt[i]) {
			t.Fatalf("decode %d: with known keys %+v, without %+v", i, gotSt[i], wantSt[i])
		}
	}
	if wantSt[2].Bad != 2 || wantSt[2].Values != 7 || len(want) != 4 {
		t.Fatalf("stats %+v, series %v", wantSt[2], want)
	}
}

// TestIntLines: lines of integer fields, which a decoder with a KeySet
// reads by its integer path once their key is known, store what a decoder
// without one stores (the general parser): the same series, values and
// timestamps, and the same errors, for plain lines and for each way a line
// can leave the integer path (escapes, other kinds of value, syntax,
// limits, timestamps at and past the int64 bounds).
func TestIntLines(t *testing.T) {
	lines := []string{
		"cpu,host=a,dc=x usage=1i,idle=-2i,zero=0i,lead=007i 1000000000",
		"cpu,host=a,dc=x usage=3i,idle=4i  2000000000  ",        // spaces around the timestamp
		"cpu,host=a,dc=x usage=5i,idle=6i 3000000000\r",         // CRLF
		"cpu,host=a,dc=x usage=7i,idle=8i",                      // no timestamp
		"cpu,host=a,dc=x usage=9i ",                             // no timestamp, a trailing space
		"cpu,host=a,dc=x usage=999999999999999999i 4000000000",  // 18 digits
		"cpu,host=a,dc=x usage=9999999999999999999i 5000000000", // 19: past the integer path (out of range)
		"cpu,host=a,dc=x usage=1,idle=2i 6000000000",            // a float first
		"cpu,host=a,dc=x idle=2i,usage=1.5 7000000000",          // a float after an integer
		"cpu,host=a,dc=x idle=2i,s=\"x y\" 8000000000",          // a string
		"cpu,host=a,dc=x idle=2i,ok=t 9000000000",               // a boolean
		"cpu,host=a,dc=x idle=2u 10000000000",                   // unsigned
		"cpu,host=a,dc=x idle=2i, 11000000000",                  // a trailing comma
		"cpu,host=a,dc=x idle=2i,,b=1i 12000000000",             // an empty field
		"cpu,host=a,dc=x =2i 13000000000",                       // an empty key
		"cpu,host=a,dc=x idle=i 14000000000",                    // no digits
		"cpu,host=a,dc=x idle=2ix 15000000000",                  // junk after the i
		"cpu,host=a,dc=x idle=+2i 16000000000",                  // a plus sign
		"cpu,host=a,dc=x id\\ le=2i 17000000000",                // an escape in a field key
		"cpu,host=a,dc=x i\"d=2i 18000000000",                   // a quote in a field key
		"cpu,host=a,dc=x idle=2i 9223372036854775807",           // the largest timestamp
		"cpu,host=a,dc=x idle=2i -9223372036854775808",          // the smallest
		"cpu,host=a,dc=x idle=2i 9223372036854775808",           // past the largest
		"cpu,host=a,dc=x idle=2i 12345678901234567890",          // 20 digits
		"cpu,host=a,dc=x idle=2i 19000000000 x",                 // junk after the timestamp
		"cpu,host=a,dc=x idle=2i 1.5",                           // not an integer timestamp
		"cpu,host=a,dc=x idle=2i\t20000000000",                  // a tab
		"cpu,host=a,dc=x a_field_name_long_enough_to_pass_the_limit=1i 21000000000",
	}
	body := []byte(strings.Join(lines, "\n"))
	lim := ingest.Limits{MaxLabelValueBytes: 40}
	for _, prec := range []Precision{Nanosecond, Second, Hour} {
		run := func(keys *KeySet) (map[string][]model.Sample, []Stats) {
			sink := ingest.NewMemorySink()
			p, err := ingest.New(sink, ingest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var sts []Stats
			for i := range 3 { // the keys are known from the second on
				w, err := p.Begin(context.Background(), ingest.Block)
				if err != nil {
					t.Fatal(err)
				}
				d := Decoder{Limits: lim, Keys: keys}
				sts = append(sts, d.Decode(w, body, prec, int64(500+i)))
				if _, err := w.Commit(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			p.Close()
			return sink.Series(), sts
		}
		want, wantSt := run(nil)
		got, gotSt := run(NewKeySet(100))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("precision %v: with known keys:\n%v\nwithout:\n%v", prec, got, want)
		}
		for i := range wantSt {
			if fmt.Sprintf("%+v", gotSt[i]) != fmt.Sprintf("%+v", wantSt[i]) {
				t.Fatalf("precision %v, decode %d: with known keys %+v, without %+v", prec, i, gotSt[i], wantSt[i])
			}
		}
		// The general path's own reading of the plain lines, as a check
		// that the comparison compares something.
		if s := want[`cpu_idle{dc="x",host="a"}`]; prec == Nanosecond && (len(s) != 3*12 || s[0].V != -2 || s[0].T != 1000) {
			t.Fatalf("cpu_idle: %v (series %v)", s, want)
		}
	}
}
