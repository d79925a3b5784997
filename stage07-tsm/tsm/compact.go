package tsm

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// Compaction. Every flush adds a small level-1 file, and every file may hold
// any key, so without merging a query would search more and more indexes
// and decode many small blocks. The planner merges:
//
//   - level compaction: 4 files of level L (1 ≤ L ≤ 3), consecutive in age,
//     become 1 file of level L+1 (the guide's levels: ~4× bigger each);
//   - full compaction: when writes have gone cold (CompactIfCold) or on
//     request, every file becomes one, of level max(4, highest input + 1),
//     with all tombstones applied.
//
// A merge reads each key from its inputs oldest first, applies each input's
// tombstones, lets the newer value win on equal timestamps, and rewrites
// the key in full blocks of 1,000 values: merged blocks compress better
// than the partial blocks of small flushes.
//
// The output takes the *oldest* generation of its inputs, so it sorts where
// they did among the other files and "newer file wins" stays true; the
// inputs must therefore be consecutive in age (the planner checks).
// Replacement is crash-safe through the manifest (see Flush): the output is
// complete on disk before the manifest swaps it for the inputs, and the
// inputs are deleted only after that (at their last reader's release).

// LevelCompactionFiles is how many files of one level trigger a compaction.
const LevelCompactionFiles = 4

// maxLevel is the highest level a level compaction produces.
const maxLevel = 4

// CompactStats describe one compaction.
type CompactStats struct {
	Full       bool
	Inputs     []FileInfo
	Output     FileStats // Keys == 0 when everything was deleted
	OutputName string
	BytesRead  int64
	Tombstones int // (key, range) tombstones applied
	Duration   time.Duration
	ValuesIn   int // values read, before dedup and tombstones
	ValuesOut  int
}

// planLevel picks the oldest LevelCompactionFiles files of the lowest level
// that has that many, if they are consecutive in the file order.
func planLevel(files []*Reader) []*Reader {
	for level := 1; level < maxLevel; level++ {
		var pos []int
		for i, f := range files {
			if f.Level() == level {
				pos = append(pos, i)
			}
		}
		for s := 0; s+LevelCompactionFiles <= len(pos); s++ {
			w := pos[s : s+LevelCompactionFiles]
			if w[len(w)-1]-w[0] == LevelCompactionFiles-1 {
				return slices.Clone(files[w[0] : w[0]+LevelCompactionFiles])
			}
		}
	}
	return nil
}

// planFull picks every file, if there is anything to gain: two or more
// files, or one with tombstones to apply.
func planFull(files []*Reader) []*Reader {
	if len(files) > 1 || (len(files) == 1 && files[0].Tombstones().Len() > 0) {
		return slices.Clone(files)
	}
	return nil
}

// Compact runs one compaction: a level compaction if one is due (full =
// false), or a full compaction. It returns zero CompactStats (no inputs)
// when there is nothing to do. Writes, flushes and queries go on meanwhile.
func (e *Engine) Compact(full bool) (CompactStats, error) {
	if e.closed.Load() {
		return CompactStats{}, ErrClosed
	}
	e.compactMu.Lock()
	defer e.compactMu.Unlock()
	start := time.Now()

	e.mu.RLock()
	var inputs []*Reader
	if full {
		inputs = planFull(e.files)
	} else {
		inputs = planLevel(e.files)
	}
	gen, level := 0, 0
	for i, f := range inputs {
		f.acquire()
		if g := e.gens[f]; i == 0 || g < gen {
			gen = g
		}
		level = max(level, f.Level())
	}
	e.mu.RUnlock()
	if len(inputs) == 0 {
		return CompactStats{}, nil
	}
	defer func() {
		for _, f := range inputs {
			f.release()
		}
	}()
	if full {
		level = max(maxLevel, level+1)
	} else {
		level++
	}
	st := CompactStats{Full: full, OutputName: fileName(gen, level)}
	for _, f := range inputs {
		st.Inputs = append(st.Inputs, FileInfo{Name: filepath.Base(f.Path()), Level: f.Level(), Size: f.Size(),
			Keys: f.KeyCount(), Tombstones: f.Tombstones().Len()})
		st.BytesRead += f.Size()
		st.Tombstones += f.Tombstones().Len()
	}
	path := filepath.Join(e.dir, st.OutputName)
	out, in, err := merge(path, level, inputs)
	if err != nil {
		return st, err
	}
	e.at("compact:written")
	st.Output, st.ValuesIn, st.ValuesOut = out, in, out.Values
	installPath := path
	if out.Keys == 0 {
		installPath = "" // everything deleted: the inputs just go
	}
	if err := e.install(inputs, installPath, gen, -1); err != nil {
		return st, err
	}
	// Committed: the manifest lists the output and not the inputs, which
	// are still on disk until the deferred releases below delete them.
	e.at("compact:installed")
	st.Duration = time.Since(start)
	e.compactions.Add(1)
	e.compactBytes.Add(out.Size)
	if e.opts.OnCompact != nil {
		e.opts.OnCompact(st)
	}
	return st, nil
}

// CompactIfCold runs a full compaction if no write has arrived for
// ColdDuration (by the engine's clock) and there is something to merge.
func (e *Engine) CompactIfCold() (CompactStats, error) {
	idle := e.opts.Now().Sub(time.Unix(0, e.lastWrite.Load()))
	if idle < e.opts.ColdDuration {
		return CompactStats{}, nil
	}
	return e.Compact(true)
}

// coldLoop is the background cold check (AutoCompact): at every tick,
// coldCheck. It ends when Close closes done.
func (e *Engine) coldLoop(ticks <-chan time.Time, stop func()) {
	defer e.bg.Done()
	defer stop()
	for {
		select {
		case <-e.done:
			return
		case <-ticks:
			_, err := e.coldCheck()
			e.noteCompact(err)
		}
	}
}

// coldCheck is what the background check does once writes have gone cold
// (no write for ColdDuration by the engine's clock): flush the cache, so
// that the WAL empties and the last writes join the merge, then a full
// compaction. InfluxDB does the same with its two cold durations (cache
// snapshot, full compaction); one suffices here. A cold engine already
// compacted to one file without tombstones is left alone: the check costs
// a clock reading and a look at the file list.
func (e *Engine) coldCheck() (CompactStats, error) {
	if e.opts.Now().Sub(time.Unix(0, e.lastWrite.Load())) < e.opts.ColdDuration {
		return CompactStats{}, nil
	}
	if _, err := e.Flush(); err != nil {
		return CompactStats{}, err
	}
	return e.Compact(true)
}

// noteCompact records the outcome of a background compaction for Stats.
func (e *Engine) noteCompact(err error) {
	if errors.Is(err, ErrClosed) {
		return
	}
	if err == nil {
		e.compactErr.Store(nil)
		return
	}
	e.compactErr.Store(&err)
}

// merge writes the union of inputs (oldest first) to a new file at path.
func merge(path string, level int, inputs []*Reader) (FileStats, int, error) {
	w, err := newWriter(path, level)
	if err != nil {
		return FileStats{}, 0, err
	}
	cur := make([]int, len(inputs)) // next key index in each input
	keys := make([][]byte, len(inputs))
	load := func(j int) error {
		keys[j] = nil
		if cur[j] < inputs[j].KeyCount() {
			k, _, _, err := inputs[j].entryAt(cur[j])
			if err != nil {
				return err
			}
			keys[j] = k
		}
		return nil
	}
	for j := range inputs {
		if err := load(j); err != nil {
			w.abort()
			return FileStats{}, 0, err
		}
	}
	valuesIn := 0
	var v, part Values
	for {
		// The smallest current key among the inputs (a handful of them:
		// a linear scan beats a heap).
		var key []byte
		for _, k := range keys {
			if k != nil && (key == nil || bytes.Compare(k, key) < 0) {
				key = k
			}
		}
		if key == nil {
			break
		}
		key = bytes.Clone(key)
		v = Values{}
		for j, f := range inputs {
			if keys[j] == nil || !bytes.Equal(keys[j], key) {
				continue
			}
			_, t, raw, err := f.entryAt(cur[j])
			if err == nil {
				var es []indexEntry
				if es, err = f.decodeEntries(raw); err == nil {
					part = Values{}
					_, err = f.readEntries(key, t, es, -1<<63, 1<<63-1, &part)
					valuesIn += part.Len()
				}
			}
			if err != nil {
				w.abort()
				return FileStats{}, 0, fmt.Errorf("tsm: compact: %w", err)
			}
			if v.Len() == 0 {
				v = part
			} else {
				v.merge(&part)
			}
			cur[j]++
			if err := load(j); err != nil {
				w.abort()
				return FileStats{}, 0, err
			}
		}
		if err := w.writeKey(key, &v); err != nil {
			w.abort()
			return FileStats{}, 0, err
		}
	}
	st, err := w.Close()
	return st, valuesIn, err
}

// maybeCompact starts a goroutine running level compactions while one is
// due (AutoCompact), unless one is running. Like maybeFlush it re-checks
// after clearing its flag, so a flush that finished meanwhile is not left
// without its compaction.
func (e *Engine) maybeCompact() {
	for e.opts.AutoCompact && !e.closed.Load() && e.levelDue() && e.compacting.CompareAndSwap(false, true) {
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			defer func() {
				e.compacting.Store(false)
				e.maybeCompact()
			}()
			for !e.closed.Load() {
				st, err := e.Compact(false)
				e.noteCompact(err)
				if err != nil || len(st.Inputs) == 0 {
					return
				}
			}
		}()
		return
	}
}

func (e *Engine) levelDue() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return planLevel(e.files) != nil
}
