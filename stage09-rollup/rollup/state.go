package rollup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
)

// stateFile is the engine's state in the data directory: per tier its
// configuration, watermark and dirty windows (README "State file").
const stateFile = "ROLLUP_STATE"

const stateVersion = 1

// state is what the engine persists. Watermark: every window of the tier
// that starts before it has been rolled up (ms, exclusive; nil before the
// first run). Dirty: windows below the watermark whose source changed
// since (late samples), to be recomputed by the next run.
type state struct {
	Version int         `json:"version"`
	Tiers   []stateTier `json:"tiers"`
}

type stateTier struct {
	Name         string  `json:"name"`
	ResolutionMs int64   `json:"resolution_ms"`
	RetentionMs  int64   `json:"retention_ms"`
	Watermark    *int64  `json:"watermark,omitempty"`
	Dirty        []int64 `json:"dirty,omitempty"`
	Last         *runLog `json:"last_run,omitempty"`
}

// runLog is what the tier's last run that found new windows processed,
// for status.
type runLog struct {
	At      int64 `json:"at"`   // clock, ms
	From    int64 `json:"from"` // windows [From, To), ms
	To      int64 `json:"to"`
	Windows int   `json:"windows"`
}

func newState(ts []Tier) *state {
	st := &state{Version: stateVersion}
	for _, t := range ts {
		st.Tiers = append(st.Tiers, stateTier{Name: t.Name, ResolutionMs: t.res(), RetentionMs: t.Retention.Milliseconds()})
	}
	return st
}

// readState reads dir's state file; ok is false when there is none.
func readState(dir string) (*state, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("rollup: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, false, fmt.Errorf("%w: %s: %v", ErrCorrupt, stateFile, err)
	}
	if st.Version != stateVersion {
		return nil, false, fmt.Errorf("%w: %s version %d", ErrCorrupt, stateFile, st.Version)
	}
	return &st, true, nil
}

// matches checks that the data directory was made with the same tiers
// (names and resolutions; retentions may change).
func (st *state) matches(ts []Tier) error {
	if len(st.Tiers) != len(ts) {
		return fmt.Errorf("%w: %d tiers, the data directory has %d", ErrConfig, len(ts), len(st.Tiers))
	}
	for i, t := range ts {
		if s := st.Tiers[i]; s.Name != t.Name || s.ResolutionMs != t.res() {
			return fmt.Errorf("%w: tier %d is %s/%s, the data directory has %s/%s", ErrConfig, i,
				t.Name, t.Resolution, s.Name, time.Duration(s.ResolutionMs)*time.Millisecond)
		}
	}
	return nil
}

// tiersOf is the configuration a state records.
func (st *state) tiersOf() []Tier {
	ts := make([]Tier, len(st.Tiers))
	for i, s := range st.Tiers {
		ts[i] = Tier{Name: s.Name, Resolution: time.Duration(s.ResolutionMs) * time.Millisecond,
			Retention: time.Duration(s.RetentionMs) * time.Millisecond}
	}
	return ts
}

// write replaces dir's state file crash-safely: the new content goes to a
// temporary file, which is fsynced and renamed over the old one, then the
// directory is fsynced so the rename itself survives a power loss. A crash
// at any point leaves the old state or the new one, never a mix.
func (st *state) write(dir string) error {
	for i := range st.Tiers {
		slices.Sort(st.Tiers[i].Dirty)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, stateFile, append(b, '\n'))
}

func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = wal.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("rollup: writing %s: %w", name, err)
	}
	return nil
}
