package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
)

// evalStats is the "stats" object of a query answer, asked for with
// stats=true or stats=all (any other non-empty value too, with a warning,
// as Prometheus does). Its shape is Prometheus's:
//
//	"stats":{"timings":{"evalTotalTime":…,"resultSortTime":0,"queryPreparationTime":…,
//	         "innerEvalTime":…,"execQueueTime":…,"execTotalTime":…},
//	         "samples":{"totalQueryableSamples":…,"samplesRead":…,"seriesTouched":…,"peakSamples":…}}
//
// Times are seconds. queryPreparationTime is the parse; innerEvalTime the
// evaluation, storage reads included (the engine reads as it evaluates);
// resultSortTime is 0 (the engine sorts as part of evaluating);
// execQueueTime the wait for a free query slot (query.max_concurrency).
// samplesRead and seriesTouched are what storage decoded and selected;
// peakSamples the most samples held at once (what query.max_samples limits).
// totalQueryableSamples is samplesRead: Prometheus counts a sample once per
// step that uses it, this server counts it once. Per-step counts (stats=all
// in Prometheus with --enable-feature=promql-per-step-stats) are not
// reported.
//
// A nil *evalStats records nothing.
type evalStats struct {
	created, started, dequeued time.Time
	parse, queue, eval         time.Duration
	engine                     promql.Stats
	read                       tsdb.QueryStats
}

// statsParam reads the stats parameter: nil when it is absent, and the
// warning Prometheus gives for values other than true and all.
func statsParam(r *http.Request) (*evalStats, []string) {
	v := r.FormValue("stats")
	if v == "" {
		return nil, nil
	}
	var warnings []string
	if v != "true" && v != "all" {
		warnings = []string{fmt.Sprintf("value %q for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\"", v)}
	}
	return &evalStats{created: time.Now()}, warnings
}

// start ends the preparation (parsing) and returns ctx with the engine's
// stats attached.
func (s *evalStats) start(ctx context.Context) context.Context {
	if s == nil {
		return ctx
	}
	s.started = time.Now()
	s.parse = s.started.Sub(s.created)
	return promql.WithStats(ctx, &s.engine)
}

func (s *evalStats) dequeuedNow() {
	if s != nil {
		s.dequeued = time.Now()
		s.queue = s.dequeued.Sub(s.started)
	}
}

func (s *evalStats) evaluated(d time.Duration, read tsdb.QueryStats) {
	if s != nil {
		s.eval, s.read = d, read
	}
}

// appendJSON writes ,"stats":{…}.
func (s *evalStats) appendJSON(b []byte) []byte {
	sec := func(b []byte, name string, d time.Duration) []byte {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		return appendFloat(b, d.Seconds())
	}
	b = append(b, `,"stats":{"timings":{`...)
	b = sec(b, "evalTotalTime", s.parse+s.eval)
	b = append(b, ',')
	b = sec(b, "resultSortTime", 0)
	b = append(b, ',')
	b = sec(b, "queryPreparationTime", s.parse)
	b = append(b, ',')
	b = sec(b, "innerEvalTime", s.eval)
	b = append(b, ',')
	b = sec(b, "execQueueTime", s.queue)
	b = append(b, ',')
	b = sec(b, "execTotalTime", s.parse+s.queue+s.eval)
	b = fmt.Appendf(b, `},"samples":{"totalQueryableSamples":%d,"samplesRead":%d,"seriesTouched":%d,"peakSamples":%d}}`,
		s.read.Samples, s.read.Samples, s.read.Series, s.engine.PeakSamples)
	return b
}

// appendJSON writes the whole answer of a query.
func (qr queryResult) appendJSON(b []byte, warnings []string) []byte {
	b, _ = qr.appendJSONLimit(b, warnings, math.MaxInt)
	return b
}

// appendJSONLimit is appendJSON that gives up (ok false) once the answer
// is longer than limit bytes.
func (qr queryResult) appendJSONLimit(b []byte, warnings []string, limit int) (_ []byte, ok bool) {
	b = append(b, `{"status":"success","data":{`...)
	if b, ok = appendValueLimit(b, qr.v, limit); !ok {
		return b, false
	}
	if qr.stats != nil {
		b = qr.stats.appendJSON(b)
	}
	b = append(b, '}')
	b = appendStrings(b, "warnings", warnings)
	b = appendStrings(b, "infos", qr.infos)
	b = append(b, "}\n"...)
	return b, len(b) <= limit
}
