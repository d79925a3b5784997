package shard

import (
	"errors"
	"fmt"
	"slices"
)

// Write routes every sample of batch to the shard of its time window,
// creating shards on demand, and appends each shard's part as one batch.
// The parts are independent: a part whose shard is no longer hot fails
// with ErrReadOnly (and a part older than the retention period with
// ErrExpired) while the others are stored; the errors are joined.
func (m *Manager) Write(batch []Series) error {
	if len(batch) == 0 {
		return nil
	}
	// Fast path: the whole batch in one window, the common case of a
	// writer sending what it just scraped.
	first, last, ok := bounds(batch)
	if !ok {
		return nil
	}
	if m.dur.Start(first) == m.dur.Start(last) {
		return m.writeShard(m.dur.Start(first), batch)
	}
	parts := m.split(batch)
	starts := make([]int64, 0, len(parts))
	for s := range parts {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	var errs []error
	for _, s := range starts {
		if err := m.writeShard(s, parts[s]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// bounds is the oldest and newest timestamp of a batch.
func bounds(batch []Series) (first, last int64, ok bool) {
	for i := range batch {
		for _, s := range batch[i].Samples {
			if !ok || s.T < first {
				first = s.T
			}
			if !ok || s.T > last {
				last = s.T
			}
			ok = true
		}
	}
	return first, last, ok
}

// split groups a batch by window. A series' samples are cut into runs of
// consecutive samples in one window (one run per window when the samples
// are sorted); the runs alias the caller's slices.
func (m *Manager) split(batch []Series) map[int64][]Series {
	n := m.dur.Milliseconds()
	parts := map[int64][]Series{}
	for i := range batch {
		s := batch[i].Samples
		for j := 0; j < len(s); {
			start := m.dur.Start(s[j].T)
			k := j + 1
			for k < len(s) && s[k].T >= start && s[k].T < start+n {
				k++
			}
			parts[start] = append(parts[start], Series{Labels: batch[i].Labels, Samples: s[j:k]})
			j = k
		}
	}
	return parts
}

// writeShard appends a batch that lies in the window starting at start.
func (m *Manager) writeShard(start int64, batch []Series) error {
	sh, err := m.shardFor(start)
	if err != nil {
		return err
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	switch {
	case sh.eng == nil:
		return fmt.Errorf("%w: %s was deleted", ErrExpired, sh.id)
	case sh.state != Hot:
		return fmt.Errorf("%w: %s is %s", ErrReadOnly, sh.id, sh.state)
	}
	if err := sh.eng.Append(batch); err != nil {
		return fmt.Errorf("shard: %s: %w", sh.id, err)
	}
	var n int64
	for i := range batch {
		n += int64(len(batch[i].Samples))
	}
	sh.points.Add(n)
	return nil
}

// shardFor returns the shard of the window starting at start, creating it
// (the guide's get_shard_for_timestamp).
func (m *Manager) shardFor(start int64) (*shard, error) {
	m.mu.RLock()
	sh, ok := m.shards[start]
	closed := m.closed
	m.mu.RUnlock()
	switch {
	case closed:
		return nil, ErrClosed
	case ok:
		return sh, nil
	}
	return m.create(start)
}

// create adds a hot shard: listed in the manifest first, then its engine
// opened (which creates the directory), so a directory the manifest does
// not list is always garbage (removeOrphans). Writers that find the shard
// in the map meanwhile wait on its lock until the engine is open.
func (m *Manager) create(start int64) (*shard, error) {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if sh, ok := m.shards[start]; ok {
		m.mu.Unlock()
		return sh, nil
	}
	end := start + m.dur.Milliseconds()
	if r := m.policy.Retention; r > 0 && end <= m.now().Add(-r).UnixMilli() {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: window %s ended before %s", ErrExpired, m.dur.ID(start), m.now().Add(-r).UTC().Format("2006-01-02T15:04:05Z"))
	}
	sh := &shard{id: m.dur.ID(start), start: start, end: end, state: Hot}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m.shards[start] = sh
	m.mu.Unlock()

	err := m.commit()
	if err == nil {
		sh.eng, err = m.open(m.shardDir(sh.id, Hot), m.engineOptions())
	}
	if err != nil {
		m.mu.Lock()
		delete(m.shards, start)
		m.mu.Unlock()
		return nil, fmt.Errorf("shard: creating %s: %w", sh.id, err)
	}
	return sh, nil
}
