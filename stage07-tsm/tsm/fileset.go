package tsm

import (
	"os"
	"path/filepath"
	"slices"
)

// install makes a new file live in place of inputs (nil for a flush):
// commit the manifest, then swap the in-memory file set. walSeg ≥ 0 moves
// wal_flushed_upto. path == "" installs nothing (a compaction whose output
// was empty: everything deleted).
func (e *Engine) install(inputs []*Reader, path string, gen, walSeg int) error {
	var r *Reader
	if path != "" {
		var err error
		if r, err = OpenReader(path); err != nil {
			os.Remove(path)
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	files := make([]*Reader, 0, len(e.files)+1)
	for _, f := range e.files {
		if !slices.Contains(inputs, f) {
			files = append(files, f)
		}
	}
	if r != nil {
		e.gens[r] = gen
		files = append(files, r)
		slices.SortStableFunc(files, func(a, b *Reader) int { return e.gens[a] - e.gens[b] })
	}
	m := e.man
	m.Files = make([]string, len(files))
	for i, f := range files {
		m.Files[i] = filepath.Base(f.Path())
	}
	if walSeg >= 0 {
		m.WALFlushedUpto = walSeg
	}
	if err := writeManifest(e.dir, m); err != nil {
		if r != nil {
			r.Close()
			os.Remove(path)
		}
		return err
	}
	e.man, e.files = m, files
	e.at("install:committed")
	for _, in := range inputs {
		in.obsolete.Store(true)
		delete(e.gens, in)
		in.release() // the file set's reference
	}
	return nil
}

func (e *Engine) closeFiles() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.files {
		f.Close()
	}
	e.files = nil
}
