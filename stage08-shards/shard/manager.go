package shard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
)

// Errors callers branch on (errors.Is).
var (
	// ErrReadOnly rejects a write into a shard that is no longer hot.
	ErrReadOnly = errors.New("shard: shard is read-only")
	// ErrExpired rejects a write older than the retention period: its
	// shard would be deleted at once.
	ErrExpired = errors.New("shard: write older than retention")
	// ErrClosed is returned by every method of a closed manager.
	ErrClosed = errors.New("shard: manager closed")
	// ErrConfig rejects options that contradict the data directory's
	// manifest (another engine or shard duration).
	ErrConfig = errors.New("shard: options differ from the manifest")
)

// Policy is the lifecycle policy. Ages are measured from the end of a
// shard's window to the clock.
type Policy struct {
	// WarmAfter: a hot shard becomes warm (read-only, compacted) once its
	// window ended this long ago. 0: as soon as it ends.
	WarmAfter time.Duration
	// ColdAfter: a warm shard becomes cold (fully compacted, moved to
	// the cold directory) once its window ended this long ago.
	ColdAfter time.Duration
	// Retention: a shard is deleted once its window ended this long ago,
	// so no sample younger than Retention is ever deleted. 0: keep forever.
	Retention time.Duration
}

// DefaultPolicy is the guide's: daily shards kept 7 days; yesterday's and
// the day before are warm, older ones cold.
var DefaultPolicy = Policy{WarmAfter: 0, ColdAfter: 48 * time.Hour, Retention: 7 * 24 * time.Hour}

// Options configure a Manager. The zero value is valid.
type Options struct {
	// ShardDuration is the window of one shard. A new data directory
	// defaults to Day; an existing one keeps its manifest's (0 = take it).
	ShardDuration Duration
	// Engine is EngineTSM or EngineBlocks. A new data directory defaults to
	// EngineTSM; an existing one keeps its manifest's ("" = take it).
	Engine string
	// Opener, if set, opens shard engines instead of the named Engine
	// (the name is still recorded): for tests and for wrapping an engine.
	Opener Opener
	// Policy, if set, replaces the manifest's policy (and is recorded in
	// it). A new data directory defaults to DefaultPolicy.
	Policy *Policy
	// ColdDir is where cold shards live. Defaults to <dir>/cold.
	ColdDir string
	// QueryWorkers bounds the shards a query reads at once. Defaults to
	// GOMAXPROCS.
	QueryWorkers int
	// CacheBytes is passed to each shard's engine (EngineOptions).
	CacheBytes int64
	// Now is the clock of every lifecycle decision. Defaults to time.Now.
	Now func() time.Time

	// rename moves a shard directory between tiers (os.Rename): tests
	// replace it to take the path a move across file systems takes.
	rename func(from, to string) error
	// crashHook, if set, is called at each step of a manifest write and of
	// a cold move (the step constants), so that a test can kill the process
	// exactly there.
	crashHook func(step string)
}

// Manager routes writes to time-window shards, fans queries out over them
// and moves shards through their lifecycle. All methods are safe for
// concurrent use.
type Manager struct {
	dir, hotDir, coldDir string
	dur                  Duration
	engine               string
	open                 Opener
	workers              int
	cacheBytes           int64
	now                  func() time.Time
	rename               func(from, to string) error // moves a shard between tiers
	crashHook            func(step string)           // Options.crashHook

	// metaMu serialises what changes the shard set or a state (creation,
	// tiering, retention, close) and every manifest write, so the manifest
	// is always written from a consistent view.
	metaMu sync.Mutex
	policy Policy

	mu     sync.RWMutex // guards shards and closed
	shards map[int64]*shard
	closed bool
}

// shard is one window and its engine.
type shard struct {
	id         string
	start, end int64 // ms, end exclusive

	// mu: writes and queries hold it shared, a lifecycle step that swaps
	// or closes the engine holds it exclusively. state is written under
	// both mu and Manager.metaMu, so either suffices to read it.
	mu     sync.RWMutex
	state  State
	eng    Engine // nil once deleted (or if opening failed)
	points atomic.Int64
}

// Open opens (creating if needed) the sharded store in dir: it reads the
// manifest, finishes a cold move a crash interrupted, removes the
// directories of shards whose deletion was committed, and opens every
// shard's engine in the state the manifest records.
func Open(dir string, opts Options) (*Manager, error) {
	m := &Manager{dir: dir, hotDir: filepath.Join(dir, "hot"), coldDir: opts.ColdDir,
		workers: opts.QueryWorkers, cacheBytes: opts.CacheBytes, now: opts.Now, rename: opts.rename, crashHook: opts.crashHook, shards: map[int64]*shard{}}
	if m.rename == nil {
		m.rename = os.Rename
	}
	if m.coldDir == "" {
		m.coldDir = filepath.Join(dir, "cold")
	}
	if m.workers <= 0 {
		m.workers = runtime.GOMAXPROCS(0)
	}
	if m.now == nil {
		m.now = time.Now
	}
	for _, d := range []string{dir, m.hotDir, m.coldDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("shard: %w", err)
		}
	}
	mf, ok, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		mf = &manifest{Version: manifestVersion, Engine: EngineTSM, ShardDuration: Day.String()}
		mf.Policy = policyJSON(DefaultPolicy)
		if opts.Engine != "" {
			mf.Engine = opts.Engine
		}
		if opts.ShardDuration != 0 {
			mf.ShardDuration = opts.ShardDuration.String()
		}
		if _, err := OpenerFor(mf.Engine); err != nil {
			return nil, err
		}
		if _, err := ParseDuration(mf.ShardDuration); err != nil {
			return nil, err
		}
	}
	m.dur, _ = ParseDuration(mf.ShardDuration)
	m.engine = mf.Engine
	if opts.Engine != "" && opts.Engine != m.engine {
		return nil, fmt.Errorf("%w: engine %s, the data directory holds %s", ErrConfig, opts.Engine, m.engine)
	}
	if opts.ShardDuration != 0 && opts.ShardDuration != m.dur {
		return nil, fmt.Errorf("%w: shard duration %s, the data directory has %s", ErrConfig, opts.ShardDuration, m.dur)
	}
	m.open = opts.Opener
	if m.open == nil {
		m.open, _ = OpenerFor(m.engine)
	}
	m.policy = parsePolicy(mf.Policy)
	if opts.Policy != nil {
		m.policy = *opts.Policy
	}
	listed := map[string]bool{}
	for _, ms := range mf.Shards {
		sh := &shard{id: ms.ID, start: ms.Start, end: ms.End, state: ms.State}
		sh.points.Store(ms.Points)
		listed[ms.ID] = true
		if err := m.finishMove(sh); err != nil {
			m.closeAll()
			return nil, err
		}
		if sh.eng, err = m.open(m.shardDir(sh.id, sh.state), m.engineOptions()); err != nil {
			m.closeAll()
			return nil, fmt.Errorf("shard: %s: %w", sh.id, err)
		}
		m.shards[sh.start] = sh
	}
	if err := m.removeOrphans(listed); err != nil {
		m.closeAll()
		return nil, err
	}
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	if err := m.commit(); err != nil {
		m.closeAll()
		return nil, err
	}
	return m, nil
}

func (m *Manager) engineOptions() EngineOptions {
	return EngineOptions{CacheBytes: m.cacheBytes, Now: m.now}
}

// shardDir is where a shard in a state lives.
func (m *Manager) shardDir(id string, st State) string {
	if st == Cold {
		return filepath.Join(m.coldDir, id)
	}
	return filepath.Join(m.hotDir, id)
}

// finishMove completes a move between tiers that a crash interrupted after
// the manifest committed the new state (lifecycle.go: toCold; move.go).
func (m *Manager) finishMove(sh *shard) error {
	want := m.shardDir(sh.id, sh.state)
	other := m.shardDir(sh.id, Hot)
	if sh.state != Cold {
		other = m.shardDir(sh.id, Cold)
	}
	if _, err := os.Stat(want); err == nil {
		// A copy across file systems is put in place before its source
		// is removed: a crash in between leaves both, and the source
		// is the stale one.
		if _, err := os.Stat(other); err == nil && sh.state == Cold {
			if err := removeDir(other); err != nil {
				return fmt.Errorf("shard: %s: removing the source of a finished move: %w", sh.id, err)
			}
		}
		return nil
	}
	if _, err := os.Stat(other); err != nil {
		return nil // never written to: the engine creates it
	}
	if err := m.moveDir(other, want); err != nil {
		return fmt.Errorf("shard: %s: finishing the move to %s: %w", sh.id, want, err)
	}
	return nil
}

// removeOrphans deletes shard directories the manifest does not list: a
// shard is listed before its directory is created and unlisted before it
// is removed, so an unlisted one is a deletion a crash interrupted.
func (m *Manager) removeOrphans(listed map[string]bool) error {
	for _, root := range []string{m.hotDir, m.coldDir} {
		entries, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("shard: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "shard_") && !listed[e.Name()] {
				if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
					return fmt.Errorf("shard: removing orphan %s: %w", e.Name(), err)
				}
			}
		}
	}
	return nil
}

// commit writes the manifest from the current shard set. The caller holds
// metaMu.
func (m *Manager) commit() error {
	mf := &manifest{Version: manifestVersion, Engine: m.engine, ShardDuration: m.dur.String(), Policy: policyJSON(m.policy)}
	m.mu.RLock()
	for _, sh := range m.shards {
		mf.Shards = append(mf.Shards, manifestShard{ID: sh.id, Start: sh.start, End: sh.end, State: sh.state, Points: sh.points.Load()})
	}
	m.mu.RUnlock()
	slices.SortFunc(mf.Shards, func(a, b manifestShard) int { return cmpInt64(a.Start, b.Start) })
	return writeManifest(m.dir, mf, m.crashPoint)
}

func policyJSON(p Policy) manifestPolicy {
	return manifestPolicy{WarmAfter: p.WarmAfter.String(), ColdAfter: p.ColdAfter.String(), Retention: p.Retention.String()}
}

func parsePolicy(p manifestPolicy) Policy {
	// check() validated the strings.
	w, _ := time.ParseDuration(p.WarmAfter)
	c, _ := time.ParseDuration(p.ColdAfter)
	r, _ := time.ParseDuration(p.Retention)
	return Policy{WarmAfter: w, ColdAfter: c, Retention: r}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Dir is the data directory; ColdDir where cold shards go.
func (m *Manager) Dir() string     { return m.dir }
func (m *Manager) ColdDir() string { return m.coldDir }

// ShardDuration, Engine and Policy describe the configuration in force.
func (m *Manager) ShardDuration() Duration { return m.dur }
func (m *Manager) Engine() string          { return m.engine }
func (m *Manager) Policy() Policy {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	return m.policy
}

// Close records the shards' point counts in the manifest and closes every
// engine.
func (m *Manager) Close() error {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.closed = true
	m.mu.Unlock()
	err := m.commit()
	return errors.Join(err, m.closeAll())
}

func (m *Manager) closeAll() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var errs []error
	for _, sh := range m.shards {
		sh.mu.Lock()
		if sh.eng != nil {
			errs = append(errs, sh.eng.Close())
			sh.eng = nil
		}
		sh.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ShardInfo describes one shard.
type ShardInfo struct {
	ID         string
	Start, End time.Time // End exclusive
	State      State
	Dir        string
	Points     int64 // samples written (an estimate after a crash)
	Bytes      int64 // on disk
	Series     int
	Files      int
}

// Shards describes every shard, oldest first. It walks each shard's
// directory for its size and asks each engine for its series count.
func (m *Manager) Shards() ([]ShardInfo, error) {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	var out []ShardInfo
	for _, sh := range m.sorted() {
		sh.mu.RLock()
		info := ShardInfo{ID: sh.id, Start: time.UnixMilli(sh.start).UTC(), End: time.UnixMilli(sh.end).UTC(),
			State: sh.state, Dir: m.shardDir(sh.id, sh.state), Points: sh.points.Load()}
		var err error
		if sh.eng != nil {
			var st EngineStats
			st, err = sh.eng.Stats()
			info.Series, info.Files = st.Series, st.Files
		}
		sh.mu.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("shard: %s: %w", sh.id, err)
		}
		if info.Bytes, err = measure.DiskUsage(info.Dir); err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// sorted returns the shards oldest first.
func (m *Manager) sorted() []*shard {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*shard, 0, len(m.shards))
	for _, sh := range m.shards {
		out = append(out, sh)
	}
	slices.SortFunc(out, func(a, b *shard) int { return cmpInt64(a.start, b.start) })
	return out
}
