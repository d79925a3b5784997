package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
)

// Transition is one lifecycle step Tier took.
type Transition struct {
	ID       string
	From, To State
	Bytes    int64 // on disk after the step
	Duration time.Duration
}

// Tier applies the policy now (by the clock): every hot shard whose window
// ended WarmAfter ago is compacted and made read-only (warm); every warm
// shard whose window ended ColdAfter ago is fully compacted and moved to
// the cold directory (cold). A shard due for both takes both steps. Shards
// retention will delete are left alone. Each step is committed to the
// manifest before the next begins, so a crash resumes where it stopped.
func (m *Manager) Tier(ctx context.Context) ([]Transition, error) {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	if m.isClosed() {
		return nil, ErrClosed
	}
	now := m.now()
	var out []Transition
	for _, sh := range m.sorted() {
		if m.expired(sh, now) {
			continue
		}
		ended := now.Sub(time.UnixMilli(sh.end))
		if sh.state == Hot && ended >= m.policy.WarmAfter {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			t, err := m.toWarm(sh)
			if err != nil {
				return out, err
			}
			out = append(out, t)
		}
		if sh.state == Warm && ended >= m.policy.ColdAfter {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			t, err := m.toCold(sh)
			if err != nil {
				return out, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *Manager) isClosed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closed
}

// expired reports whether retention deletes sh at now.
func (m *Manager) expired(sh *shard, now time.Time) bool {
	r := m.policy.Retention
	return r > 0 && sh.end <= now.Add(-r).UnixMilli()
}

// toWarm: no more writes (the state changes under the shard's write lock,
// so no append is in flight), then the engine compacts while queries go
// on, then the manifest records it.
func (m *Manager) toWarm(sh *shard) (Transition, error) {
	start := time.Now()
	sh.mu.Lock()
	sh.state = Warm
	sh.mu.Unlock()
	sh.mu.RLock()
	err := sh.eng.Compact(false)
	sh.mu.RUnlock()
	if err == nil {
		err = m.commit()
	}
	if err != nil {
		// Still read-only in memory; the manifest says hot until a
		// later Tier succeeds, which retries the compaction.
		return Transition{}, fmt.Errorf("shard: %s to warm: %w", sh.id, err)
	}
	b, _ := measure.DiskUsage(m.shardDir(sh.id, Warm))
	return Transition{ID: sh.id, From: Hot, To: Warm, Bytes: b, Duration: time.Since(start)}, nil
}

// Crash points of the cold move (see crashHook).
const (
	stepColdCompacted = "cold-compacted" // full compaction done, still warm
	stepColdCommitted = "cold-committed" // manifest says cold, directory not moved
	stepColdMoved     = "cold-moved"     // directory renamed, not yet synced
)

// toCold: full compaction (queries go on), then, holding the shard
// exclusively: close the engine, commit "cold" to the manifest, move the
// directory into the cold directory (moveDir: a rename, or a copy across
// file systems), reopen. A crash after the commit leaves the directory in
// the hot tree, or both trees mid-copy; Open's finishMove completes the
// move.
func (m *Manager) toCold(sh *shard) (Transition, error) {
	start := time.Now()
	sh.mu.RLock()
	err := sh.eng.Compact(true)
	sh.mu.RUnlock()
	if err != nil {
		return Transition{}, fmt.Errorf("shard: %s full compaction: %w", sh.id, err)
	}
	m.crashPoint(stepColdCompacted)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	from, to := m.shardDir(sh.id, Warm), m.shardDir(sh.id, Cold)
	if err := sh.eng.Close(); err != nil {
		return Transition{}, fmt.Errorf("shard: %s: %w", sh.id, err)
	}
	sh.eng = nil
	sh.state = Cold
	err = m.commit()
	if err != nil {
		sh.state = Warm
	} else {
		m.crashPoint(stepColdCommitted)
		err = m.moveDir(from, to)
	}
	dir := to
	if err != nil {
		// Not committed, or not moved: reopen where the data is, so
		// the shard stays readable; the manifest or Open sorts it out.
		// A copy across file systems that is in place is the data even
		// if removing its source failed.
		if _, serr := os.Stat(to); serr != nil {
			dir = from
		}
		err = fmt.Errorf("shard: %s to cold: %w", sh.id, err)
	}
	eng, oerr := m.open(dir, m.engineOptions())
	if oerr != nil {
		return Transition{}, errors.Join(err, fmt.Errorf("shard: %s: reopening: %w", sh.id, oerr))
	}
	sh.eng = eng
	if err != nil {
		return Transition{}, err
	}
	b, _ := measure.DiskUsage(to)
	return Transition{ID: sh.id, From: Warm, To: Cold, Bytes: b, Duration: time.Since(start)}, nil
}

// Deletion is one shard retention deleted.
type Deletion struct {
	ID         string
	Start, End time.Time
	State      State
	Bytes      int64 // freed
	Points     int64
}

// stepRetentionCommitted: the manifest no longer lists the shard; its
// directory is still there (Open removes it as an orphan).
const stepRetentionCommitted = "retention-committed"

// EnforceRetention deletes every shard whose whole window ended more than
// Retention ago (the guide's enforce_retention): a shard that still holds
// one sample younger than that is kept whole. A deletion is: the engine
// closed, the manifest committed without the shard, the directory removed —
// one directory removal whatever the shard's size.
func (m *Manager) EnforceRetention() ([]Deletion, error) {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	if m.isClosed() {
		return nil, ErrClosed
	}
	now := m.now()
	var doomed []*shard
	var out []Deletion
	for _, sh := range m.sorted() {
		if !m.expired(sh, now) {
			continue
		}
		dir := m.shardDir(sh.id, sh.state)
		b, err := measure.DiskUsage(dir)
		if err != nil {
			return nil, err
		}
		doomed = append(doomed, sh)
		out = append(out, Deletion{ID: sh.id, Start: time.UnixMilli(sh.start).UTC(), End: time.UnixMilli(sh.end).UTC(),
			State: sh.state, Bytes: b, Points: sh.points.Load()})
	}
	if len(doomed) == 0 {
		return nil, nil
	}
	var errs []error
	m.mu.Lock()
	for _, sh := range doomed {
		delete(m.shards, sh.start)
	}
	m.mu.Unlock()
	for _, sh := range doomed {
		sh.mu.Lock() // waits for queries reading it
		if sh.eng != nil {
			errs = append(errs, sh.eng.Close())
			sh.eng = nil
		}
		sh.mu.Unlock()
	}
	if err := m.commit(); err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	m.crashPoint(stepRetentionCommitted)
	for _, sh := range doomed {
		if err := os.RemoveAll(m.shardDir(sh.id, sh.state)); err != nil {
			errs = append(errs, fmt.Errorf("shard: removing %s: %w", sh.id, err))
		}
	}
	return out, errors.Join(errs...)
}
