package rollup

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage08-shards/shard"
)

// AggLabel names the aggregate of a rollup series. The rollup of the raw
// series {__name__="cpu_usage", host="server1"} is four series in each
// rollup tier's shards, one sample per window at the window's start:
//
//	{__name__="cpu_usage", __agg__="count", host="server1"}
//	{__name__="cpu_usage", __agg__="sum",   host="server1"}
//	{__name__="cpu_usage", __agg__="min",   host="server1"}
//	{__name__="cpu_usage", __agg__="max",   host="server1"}
//
// plus the window's sketch in the tier's sketch files (sketchstore.go). A
// label of its own, not stage08's __field__, so that raw series that
// already have fields keep them.
const AggLabel = "__agg__"

// The aggregate names, in the order they are written.
var aggNames = [4]string{"count", "sum", "min", "max"}

// Options configure an Engine. The zero value is valid.
type Options struct {
	// Tiers is the configuration; defaults to DefaultTiers. A data
	// directory keeps its tiers' names and resolutions (ErrConfig
	// otherwise); retentions may change.
	Tiers []Tier
	// Now is the clock of jobs, retention and routing. Defaults to
	// time.Now.
	Now func() time.Time
	// AcceptLate is how long after a raw shard's window (a UTC day) ends
	// it still takes late samples; then Run makes it read-only and
	// compacts it, and later samples are refused with shard.ErrReadOnly.
	// Defaults to 1 day.
	AcceptLate time.Duration
	// CacheBytes bounds each shard engine's in-memory cache. Defaults to
	// 8 MiB (stage07's 256 MiB is meant for one engine, not hundreds).
	CacheBytes int64
	// QueryWorkers is passed to every tier's shard manager.
	QueryWorkers int
}

// never is the cold-after age of the tiers' shards: the rollup engine
// keeps every shard in the hot directory until retention deletes it.
const never = 100 * 365 * day

// Engine keeps a raw tier and its rollup tiers, each a stage08 shard
// manager of its own in dir/<tier name>/, runs the incremental rollup jobs,
// applies each tier's retention and routes queries to the finest tier that
// still holds each part of their range. All methods are safe for
// concurrent use; Run and EnforceRetention run one at a time.
type Engine struct {
	dir        string
	tiers      []Tier
	now        func() time.Time
	acceptLate time.Duration
	mgrs       []*shard.Manager
	sketches   []*sketchStore // nil for the raw tier

	// claimMu orders raw writes against the first job: Write holds it
	// shared from the late check to the end of the write, Run exclusively
	// while it raises claimed and while it snapshots the dirty windows. A
	// sample is therefore either written before the job reads its window
	// or seen as late, and a late mark is never consumed before its
	// sample is written.
	claimMu sync.RWMutex
	claimed int64 // first rollup tier: windows before it are rolled up or being rolled up

	stMu  sync.Mutex // guards st, dirty, seq and writes of the state file
	st    *state
	dirty []map[int64]uint64 // per tier: dirty window → the mark's sequence number
	seq   uint64

	runMu sync.Mutex // Run, EnforceRetention, Close

	afterLateMark func() // tests: runs between a late mark and its write
}

// Open opens (creating if needed) the rollup engine in dir.
func Open(dir string, opts Options) (*Engine, error) {
	ts := opts.Tiers
	if ts == nil {
		ts = DefaultTiers
	}
	if err := checkTiers(ts); err != nil {
		return nil, err
	}
	e := &Engine{dir: dir, tiers: slices.Clone(ts), now: opts.Now, acceptLate: opts.AcceptLate}
	if e.now == nil {
		e.now = time.Now
	}
	if e.acceptLate <= 0 {
		e.acceptLate = day
	}
	cache := opts.CacheBytes
	if cache <= 0 {
		cache = 8 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	st, ok, err := readState(dir)
	if err != nil {
		return nil, err
	}
	if ok {
		if err := st.matches(ts); err != nil {
			return nil, err
		}
	} else {
		st = newState(ts)
	}
	e.st = st
	e.dirty = make([]map[int64]uint64, len(ts))
	for i, t := range ts {
		st.Tiers[i].RetentionMs = t.Retention.Milliseconds()
		e.dirty[i] = map[int64]uint64{}
		for _, w := range st.Tiers[i].Dirty {
			e.dirty[i][w] = 0
		}
	}
	e.claimed = math.MinInt64
	if wm := st.Tiers[1].Watermark; wm != nil {
		e.claimed = *wm
	}
	for i, t := range ts {
		warm := e.acceptLate
		if i > 0 {
			// A late raw sample can dirty a window up to AcceptLate
			// plus a raw shard's day old: its rollup shard must still
			// be writable when the next run recomputes it.
			warm += day + t.Resolution
		}
		m, err := shard.Open(filepath.Join(dir, t.Name), shard.Options{
			ShardDuration: t.shardDuration(), Engine: shard.EngineTSM, CacheBytes: cache, Now: e.now,
			QueryWorkers: opts.QueryWorkers, Policy: &shard.Policy{WarmAfter: warm, ColdAfter: never, Retention: t.Retention},
		})
		if err != nil {
			e.closeManagers()
			return nil, fmt.Errorf("rollup: tier %s: %w", t.Name, err)
		}
		e.mgrs = append(e.mgrs, m)
		var sk *sketchStore
		if i > 0 {
			if sk, err = openSketchStore(filepath.Join(dir, t.Name, "sketches"), t.shardDuration()); err != nil {
				e.closeManagers()
				return nil, err
			}
		}
		e.sketches = append(e.sketches, sk)
	}
	if err := e.saveLocked(); err != nil {
		e.closeManagers()
		return nil, err
	}
	return e, nil
}

func (e *Engine) closeManagers() error {
	var errs []error
	for _, m := range e.mgrs {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// Close closes every tier's shards. The state file is always current.
func (e *Engine) Close() error {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	return e.closeManagers()
}

// Dir is the data directory; Tiers the configuration in force.
func (e *Engine) Dir() string   { return e.dir }
func (e *Engine) Tiers() []Tier { return slices.Clone(e.tiers) }

// Manager is the shard manager of tier i (0: raw): for tools that read a
// tier directly.
func (e *Engine) Manager(i int) *shard.Manager { return e.mgrs[i] }

// saveLocked writes the state file from st and the dirty sets. The caller
// holds stMu (or is Open).
func (e *Engine) saveLocked() error {
	for i := range e.st.Tiers {
		ws := make([]int64, 0, len(e.dirty[i]))
		for w := range e.dirty[i] {
			ws = append(ws, w)
		}
		e.st.Tiers[i].Dirty = ws
	}
	return e.st.write(e.dir)
}

// markDirty records windows of tier i as dirty and persists the state.
func (e *Engine) markDirty(i int, windows []int64) error {
	e.stMu.Lock()
	defer e.stMu.Unlock()
	for _, w := range windows {
		e.seq++
		e.dirty[i][w] = e.seq
	}
	return e.saveLocked()
}

// watermark is tier i's watermark (ok false before its first run).
func (e *Engine) watermark(i int) (int64, bool) {
	e.stMu.Lock()
	defer e.stMu.Unlock()
	if wm := e.st.Tiers[i].Watermark; wm != nil {
		return *wm, true
	}
	return 0, false
}

// Write stores raw samples (shard.Series, as stage08 takes them). A
// sample in a window of the first rollup tier that is already rolled up
// (or being rolled up) is late: its window is marked dirty, and the state
// saved, before the sample is written, so a crash in between costs at
// most one needless recomputation, never a missed one. The next Run
// recomputes the window and, from it, its parents in the coarser tiers.
func (e *Engine) Write(batch []shard.Series) error {
	e.claimMu.RLock()
	defer e.claimMu.RUnlock()
	res := e.tiers[1].res()
	var late []int64
	for i := range batch {
		for _, s := range batch[i].Samples {
			if s.T < e.claimed {
				w := floorTo(s.T, res)
				if len(late) == 0 || late[len(late)-1] != w {
					late = append(late, w)
				}
			}
		}
	}
	if len(late) > 0 {
		if err := e.markDirty(1, late); err != nil {
			return err
		}
		if e.afterLateMark != nil {
			e.afterLateMark()
		}
	}
	return e.mgrs[0].Write(batch)
}

// matchLabels reports whether l satisfies every matcher.
func matchLabels(l model.Labels, ms []*index.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name())) {
			return false
		}
	}
	return true
}
