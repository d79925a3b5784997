package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// scraper generates the demo's data: http_requests_total for 4 methods ×
// 50 handlers × 50 instances (10,000 series at the default size), counters
// that grow by a few requests per scrape, from a fixed seed.
type scraper struct {
	lsets []model.Labels
	refs  []uint64
	vals  []float64
	rng   *rand.Rand
}

var methods = []string{"GET", "POST", "PUT", "DELETE"}

func newScraper(n int) *scraper {
	s := &scraper{rng: rand.New(rand.NewPCG(6, 6))}
	for i := range n {
		m := methods[i%len(methods)]
		h := fmt.Sprintf("/api/v1/endpoint%02d", (i/len(methods))%50)
		inst := fmt.Sprintf("10.0.%d.%d:9100", (i/200)/250, (i/200)%250)
		s.lsets = append(s.lsets, model.MustFromStrings(model.MetricName, "http_requests_total", "method", m, "handler", h, "instance", inst, "job", "api"))
	}
	s.refs = make([]uint64, n)
	s.vals = make([]float64, n)
	return s
}

// scrape appends one sample per series at t and commits.
func (s *scraper) scrape(db *tsdb.DB, t int64) error {
	app := db.Appender(context.Background())
	for i := range s.lsets {
		s.vals[i] += float64(s.rng.IntN(20))
		ref, err := app.Append(s.refs[i], s.lsets[i], t, s.vals[i])
		if err != nil {
			app.Rollback()
			return err
		}
		s.refs[i] = ref
	}
	return app.Commit()
}

// run scrapes from t0 (inclusive) to t1 (exclusive) every step ms.
func (s *scraper) run(db *tsdb.DB, t0, t1, step int64, progress *cli.Progress) (int, error) {
	n := 0
	for t := t0; t < t1; t += step {
		if err := s.scrape(db, t); err != nil {
			return n, err
		}
		n += len(s.lsets)
		if progress != nil {
			progress.Add(int64(len(s.lsets)))
		}
	}
	return n, nil
}
