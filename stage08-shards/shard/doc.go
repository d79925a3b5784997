// Package shard partitions a time-series store by time: every write goes to
// the shard of its time window (an hour, a day or a week, aligned to UTC
// boundaries), each shard is a complete storage engine of its own, and a
// query fans out to the shards its time range overlaps. Whole shards move
// through a lifecycle — hot (writable), warm (read-only, compacted), cold
// (fully compacted, moved to a cold directory) — and retention deletes whole
// shards, never part of one.
//
// One concept per file:
//
//	engine.go         Engine: the small interface a shard's storage satisfies
//	tsmengine.go      the adapter for stage07's TSM engine
//	blocksengine.go   the adapter for stage06's block engine
//	window.go         shard windows: Hour, Day, Week; alignment; shard IDs
//	manifest.go       MANIFEST: shard states, replaced crash-safely
//	manager.go        Manager: Open (resume from the manifest), Close, Shards
//	route.go          Write: split a batch by window, create shards on demand
//	plan.go           Plan: which shards a time range overlaps
//	query.go          Select: a bounded worker pool over the planned shards
//	merge.go          the k-way merges (series by labels, samples by time)
//	lifecycle.go      Tier (hot → warm → cold) and EnforceRetention
//	influxql.go       stage07's InfluxQL subset over all shards
//
// Time is the caller's: Options.Now is the clock every policy decision
// reads, so tests and demos move it instead of sleeping.
package shard
