package cardinality_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage12-cardinality/cardinality"
)

// A Limiter is stage06's admission hook: the third new series of a metric
// limited to two is refused; its existing series are still written.
func ExampleLimiter() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	tr := cardinality.NewTracker(cardinality.TrackerOptions{})
	lim := cardinality.NewLimiter(cardinality.Limits{PerMetric: map[string]int{"http_requests": 2}},
		cardinality.LimiterOptions{Tracker: tr})
	db, err := tsdb.Open(dir, tsdb.Options{AdmitSeries: lim.Admit, NoBackgroundCompaction: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	app := db.Appender(nil)
	for _, path := range []string{"/a", "/b", "/c", "/a"} {
		ls := model.MustFromStrings("__name__", "http_requests", "path", path)
		_, err := app.Append(0, ls, 1000, 1)
		fmt.Printf("%s: %v (limit error: %v)\n", path, err, errors.Is(err, cardinality.ErrSeriesLimit))
	}
	_ = app.Commit()
	m, _ := tr.Metric("http_requests")
	fmt.Println("stored:", db.Head().MetricSeries("http_requests"), "offered:", m.Series,
		"dropped:", lim.DroppedFor("http_requests").Total)
	// Output:
	// /a: <nil> (limit error: false)
	// /b: <nil> (limit error: false)
	// /c: cardinality: series limit reached: metric "http_requests" limit 2, current 2 series; new series refused (limit error: true)
	// /a: <nil> (limit error: false)
	// stored: 2 offered: 3 dropped: 1
}
