package promql

import "context"

// Stats is what a query reports about its own evaluation when the caller
// asks for it (the HTTP API's stats parameter).
type Stats struct {
	// PeakSamples is the most samples the query held in memory at once:
	// the count that Opts.MaxSamples limits.
	PeakSamples int
}

type statsKey struct{}

// WithStats returns a context whose queries record their Stats in s. A
// query evaluates on one goroutine at a time as far as s is concerned, so
// s needs no lock; read it after Eval or EvalRange has returned.
func WithStats(ctx context.Context, s *Stats) context.Context {
	return context.WithValue(ctx, statsKey{}, s)
}

func statsFrom(ctx context.Context) *Stats {
	s, _ := ctx.Value(statsKey{}).(*Stats)
	return s
}
