// Package rollup is a downsampling engine on top of stage08's time shards:
// a raw tier and rollup tiers (by default raw 7 d → 1 m for 30 d → 1 h for
// a year → 1 d forever), each a shard.Manager of its own; incremental jobs
// that roll each tier up from the one below, with a persisted watermark and
// dirty windows for late samples; retention per tier; and a router that
// serves each part of a query's range from the finest tier still holding
// it.
//
// One concept per file:
//
//	sketch.go       Sketch: DDSketch, relative-error quantiles, mergeable, bounded
//	sketchcodec.go  the sketch's binary encoding
//	aggregate.go    Aggregate: count, sum, min, max, sketch; Add and Merge
//	tier.go         Tier: name, resolution, retention; the defaults; alignment
//	state.go        ROLLUP_STATE: watermarks and dirty windows, replaced crash-safely
//	sketchstore.go  the sketch files beside each rollup tier's shards
//	engine.go       Engine: Open, Write (late samples mark windows dirty), Close
//	job.go          Run: the rollup jobs
//	retention.go    EnforceRetention per tier
//	plan.go         Plan: the query router
//	query.go        Execute: segment scans merged into one Aggregate; ReadTier
//	parse.go        the query language: avg(cpu_usage) WHERE host='server1'
//	status.go       Status per tier
//
// Time is the caller's: Options.Now is the clock of every job, retention
// and routing decision, so tests and demos move it instead of sleeping.
package rollup
