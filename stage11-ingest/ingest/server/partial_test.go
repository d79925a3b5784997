package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// TestPartialWriteNamesEveryBadLine: a partial write's 400 names each bad
// line (up to influx.MaxErrors, then how many more), not only the first,
// and the good lines are stored.
func TestPartialWriteNamesEveryBadLine(t *testing.T) {
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	var body strings.Builder
	bad := 0
	for i := 1; i <= 30; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&body, "bad%d\n", i) // no field set
			bad++
		} else {
			fmt.Fprintf(&body, "good,i=%d v=1 1000\n", i)
		}
	}
	for _, path := range []string{"/write?db=x&precision=ms", "/api/v2/write?org=o&bucket=b&precision=ms"} {
		r := post(t, f.url+path, "text/plain", []byte(body.String()))
		if r.code != 400 {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
		for i := 1; i <= 2*influx.MaxErrors; i++ {
			if named := strings.Contains(r.body, fmt.Sprintf("line %d,", 2*i)); named != (i <= influx.MaxErrors) {
				t.Errorf("%s: line %d named: %v\n%s", path, 2*i, named, r.body)
			}
		}
		if want := fmt.Sprintf("; %d more", bad-influx.MaxErrors); !strings.Contains(r.body, want) || !strings.Contains(r.body, fmt.Sprintf("dropped=%d", bad)) {
			t.Errorf("%s: want %q and dropped=%d in %s", path, want, bad, r.body)
		}
	}
	if n := len(f.sink.Series()); n != 15 {
		t.Errorf("%d series stored, want the 15 good lines'", n)
	}
}
