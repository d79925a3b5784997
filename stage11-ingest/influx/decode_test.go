package influx

import (
	"context"
	"errors"
	"fmt"
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
