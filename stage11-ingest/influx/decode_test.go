package influx

import (
	"context"
	"errors"
	"testing"
	"time"

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
	})
}
