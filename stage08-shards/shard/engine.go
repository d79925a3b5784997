package shard

import (
	"context"
	"fmt"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// FieldLabel names the InfluxDB field of a series. In this package's data
// model a series is a stage01 label set with float samples (timestamps in
// milliseconds, as in every stage after stage01); an InfluxDB point
// cpu,host=a usage_user=1,usage_system=2 is two series,
//
//	{__name__="cpu", __field__="usage_user",   host="a"}
//	{__name__="cpu", __field__="usage_system", host="a"}
//
// which stage06 stores as they are and stage07 stores under the keys
// cpu,host=a#!~#usage_user and cpu,host=a#!~#usage_system. A series without
// the label is the field "value".
const FieldLabel = "__field__"

// DefaultField is the field of a series without FieldLabel.
const DefaultField = "value"

// Series is one series and some of its samples, sorted by time.
type Series struct {
	Labels  model.Labels
	Samples []model.Sample
}

// Engine is the storage inside one shard. Both of the course's engines
// satisfy it through a thin adapter (OpenTSM, OpenBlocks); the manager
// never looks inside.
//
// An Engine is safe for concurrent use. The manager guarantees it never
// calls Append after the shard has left the hot state, and never calls
// anything after Close.
type Engine interface {
	// Append stores a batch. It is atomic: on an error nothing of the
	// batch is stored.
	Append(batch []Series) error
	// Select returns the series matching every matcher (all series with
	// none) that have samples in [mint, maxt] (inclusive, ms), sorted by
	// labels, their samples sorted by time. It stops early with ctx.Err()
	// when ctx is cancelled.
	Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) ([]Series, error)
	// Compact makes the data read-optimised: everything in memory is
	// written out and level compactions run (full = false: a warm shard),
	// or everything is merged into as few files as the engine can
	// (full = true: a cold shard).
	Compact(full bool) error
	// Stats describes what is stored.
	Stats() (EngineStats, error)
	// Close releases the engine; the data stays in its directory.
	Close() error
}

// EngineStats describe an engine's content.
type EngineStats struct {
	Series int // distinct label sets
	Files  int // data files (TSM files; blocks), 0 while all is in memory and the WAL
}

// EngineOptions configure an engine when a shard opens it.
type EngineOptions struct {
	// CacheBytes bounds what an engine keeps in memory before writing a
	// file (stage07's CacheMaxSize). 0: the engine's default.
	CacheBytes int64
	// Now is the clock (for engines that read one).
	Now func() time.Time
}

// Opener opens (creating if needed) the engine of one shard in dir.
type Opener func(dir string, opts EngineOptions) (Engine, error)

// Engine names for Options.Engine and the manifest.
const (
	EngineTSM    = "tsm"
	EngineBlocks = "blocks"
)

// OpenerFor returns the opener of a named engine.
func OpenerFor(name string) (Opener, error) {
	switch name {
	case EngineTSM:
		return OpenTSM, nil
	case EngineBlocks:
		return OpenBlocks, nil
	}
	return nil, fmt.Errorf("shard: unknown engine %q (want %s or %s)", name, EngineTSM, EngineBlocks)
}

// fieldOf is the field of a series' labels.
func fieldOf(l model.Labels) string {
	if f := l.Get(FieldLabel); f != "" {
		return f
	}
	return DefaultField
}
