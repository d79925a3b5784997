package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// maxPoints is Prometheus's cap on steps per series of a range query.
const maxPoints = 11000

// queryResult is the data of a query answer; it is written with the
// hand-made encoder of json.go. stats is nil unless the request asked;
// the warnings (the engine's, damaged blocks in the query's range, a
// limit…) go in the envelope, returned by the handler, and so do the
// engine's infos, which ride here because only query answers have them.
type queryResult struct {
	v     promql.Value
	stats *evalStats
	infos []string
}

// query serves /api/v1/query: query, time (default now), timeout.
func (a *API) query(r *http.Request) (any, []string, *apiError) {
	ts, aerr := timeParam(r, "time", a.now())
	if aerr != nil {
		return nil, nil, aerr
	}
	qs, warnings := statsParam(r)
	expr, ctx, cancel, aerr := a.prepare(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	defer cancel()
	ctx = qs.start(ctx)
	return a.run(ctx, "instant", qs, warnings, r.FormValue("query"), promql.Query{Expr: expr, Start: ts})
}

// queryRange serves /api/v1/query_range: query, start, end, step, timeout.
func (a *API) queryRange(r *http.Request) (any, []string, *apiError) {
	var ps [2]time.Time
	for i, name := range []string{"start", "end"} {
		s := r.FormValue(name)
		if s == "" {
			return nil, nil, badParam(name, errors.New("missing"))
		}
		t, err := parseTime(s)
		if err != nil {
			return nil, nil, badParam(name, err)
		}
		ps[i] = t
	}
	start, end := ps[0], ps[1]
	if end.Before(start) {
		return nil, nil, badParam("end", errors.New("end timestamp must not be before start time"))
	}
	stepS := r.FormValue("step")
	if stepS == "" {
		return nil, nil, badParam("step", errors.New("missing"))
	}
	step, err := parseDuration(stepS)
	if err != nil {
		return nil, nil, badParam("step", err)
	}
	if step <= 0 {
		return nil, nil, badParam("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
	}
	if end.Sub(start)/step > maxPoints {
		return nil, nil, newError(ErrBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	qs, warnings := statsParam(r)
	expr, ctx, cancel, aerr := a.prepare(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	defer cancel()
	ctx = qs.start(ctx)
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		return nil, nil, newError(ErrBadData, fmt.Errorf("invalid expression type %q for range query, must be Scalar or instant Vector", t.DocumentedType()))
	}
	return a.run(ctx, "range", qs, warnings, r.FormValue("query"), promql.Query{Expr: expr, Start: start, End: end, Step: step})
}

// prepare parses the query and makes its context: the request's, bounded by
// the timeout parameter if one is given (the engine's own timeout bounds it
// anyway).
func (a *API) prepare(r *http.Request) (parser.Expr, context.Context, context.CancelFunc, *apiError) {
	q := r.FormValue("query")
	if q == "" {
		return nil, nil, nil, badParam("query", errors.New("missing"))
	}
	expr, err := a.engine.Parse(q) // the language the engine's features allow
	if err != nil {
		return nil, nil, nil, badParam("query", err)
	}
	var d time.Duration
	if s := r.FormValue("timeout"); s != "" {
		d, err = parseDuration(s)
		if err != nil || d <= 0 {
			if err == nil {
				err = errors.New("timeout must be positive")
			}
			return nil, nil, nil, badParam("timeout", err)
		}
	}
	// The query ends with the request (the client gone), at its timeout,
	// or when the server shuts down (CancelQueries), whichever is first.
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(a.stopQueries, cancel)
	if d > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, d)
		return expr, ctx, func() { cancelT(); stop(); cancel() }, nil
	}
	return expr, ctx, func() { stop(); cancel() }, nil
}

// run evaluates one query (the text of which places the annotations'
// positions) under the concurrency limit, over a fresh storage adapter
// that is closed (releasing its queriers) afterwards, and maps the
// engine's errors to API error types. The answer's warnings are the
// engine's, then the storage's (each logged the first time it is seen),
// then the request's own (paramWarnings).
func (a *API) run(ctx context.Context, typ string, qs *evalStats, paramWarnings []string, text string, q promql.Query) (any, []string, *apiError) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, a.queryError(ctx.Err())
	}
	defer func() { <-a.sem }()
	qs.dequeuedNow()
	m := a.opts.Metrics
	if m != nil {
		m.QueriesRunning.Inc()
		defer m.QueriesRunning.Dec()
	}
	start := time.Now()
	st := storage.NewQueryStorage(a.db)
	res, err := a.engine.Exec(ctx, st, q)
	cerr := st.Close()
	el := time.Since(start)
	qs.evaluated(el, st.Stats())
	a.queryStats.observe(el)
	if m != nil {
		m.Queries.WithLabelValues(typ).Inc()
		m.QueryDuration.WithLabelValues(typ).Observe(el.Seconds())
	}
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, a.queryError(err)
	}
	warnings, infos := res.Annotations.Strings(text)
	for _, w := range st.Warnings() {
		if _, seen := a.warned.LoadOrStore(w, true); !seen {
			a.log.Warn("query answered without damaged data", "warning", w)
		}
		warnings = append(warnings, w)
	}
	return queryResult{res.Value, qs, infos}, append(warnings, paramWarnings...), nil
}

// queryError is engineError, except that any query that fails once the
// server is shutting down (CancelQueries) is answered 503 unavailable: it
// was canceled for that, whatever error the cancel surfaced as.
func (a *API) queryError(err error) *apiError {
	if a.stopQueries.Err() != nil {
		return newError(ErrUnavailable, errors.New("query canceled: the server is shutting down"))
	}
	return engineError(err)
}

func engineError(err error) *apiError {
	switch {
	case errors.Is(err, promql.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return newError(ErrTimeout, err)
	case errors.Is(err, promql.ErrCanceled), errors.Is(err, context.Canceled):
		return newError(ErrCanceled, err)
	case errors.Is(err, promql.ErrMemoryLimit):
		return newError(ErrExecution, fmt.Errorf("%w (--query.max-memory)", err))
	case errors.Is(err, promql.ErrExecution):
		return newError(ErrExecution, err)
	}
	return newError(ErrInternal, err)
}
