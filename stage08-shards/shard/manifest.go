package shard

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
)

// ManifestName is the manifest's file name in the data directory.
const ManifestName = "MANIFEST"

const manifestVersion = 1

// ErrCorrupt marks a manifest that does not decode or does not make sense.
var ErrCorrupt = errors.New("shard: corrupt manifest")

// State is a shard's place in the lifecycle.
type State string

const (
	Hot  State = "hot"  // takes writes; in the data directory
	Warm State = "warm" // read-only, compacted; in the data directory
	Cold State = "cold" // read-only, fully compacted; in the cold directory
)

// manifest is the MANIFEST file: JSON, one object.
//
//	{
//	  "version": 1,
//	  "engine": "tsm",
//	  "shard_duration": "day",
//	  "policy": {"warm_after": "0s", "cold_after": "48h0m0s", "retention": "168h0m0s"},
//	  "shards": [
//	    {"id": "shard_2024-01-15", "start": 1705276800000, "end": 1705363200000,
//	     "state": "hot", "points": 2073600},
//	    …
//	  ]
//	}
//
// start and end are ms, end exclusive. A shard's directory follows from
// its state: <data-dir>/hot/<id> while hot or warm, <cold-dir>/<id> once
// cold. points is the number of samples written (an estimate for query
// plans: updated whenever the manifest is written, so a crash can leave it
// behind; it is never used for correctness).
type manifest struct {
	Version       int             `json:"version"`
	Engine        string          `json:"engine"`
	ShardDuration string          `json:"shard_duration"`
	Policy        manifestPolicy  `json:"policy"`
	Shards        []manifestShard `json:"shards"`
}

type manifestPolicy struct {
	WarmAfter string `json:"warm_after"`
	ColdAfter string `json:"cold_after"`
	Retention string `json:"retention"`
}

type manifestShard struct {
	ID     string `json:"id"`
	Start  int64  `json:"start"`
	End    int64  `json:"end"`
	State  State  `json:"state"`
	Points int64  `json:"points"`
}

// crashPoint calls the crash tests' hook, if any, at a step.
func (m *Manager) crashPoint(step string) {
	if m.crashHook != nil {
		m.crashHook(step)
	}
}

// The steps of writeManifest, in order.
const (
	stepTmpWritten = "tmp-written" // MANIFEST.tmp has the bytes, not yet synced
	stepTmpSynced  = "tmp-synced"  // … and is fsynced
	stepRenamed    = "renamed"     // MANIFEST is the new one (rename is atomic)
	stepDirSynced  = "dir-synced"  // … and the rename is durable
)

// writeManifest replaces dir/MANIFEST: the new content goes to
// MANIFEST.tmp, which is fsynced and renamed over MANIFEST, then the
// directory is fsynced so the rename itself survives a power loss. A crash
// at any point leaves either the old or the new manifest, whole.
//
// at is called after each step (Manager.crashPoint).
func writeManifest(dir string, m *manifest, at func(step string)) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp := filepath.Join(dir, ManifestName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("shard: manifest: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("shard: manifest: %w", err)
	}
	at(stepTmpWritten)
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("shard: manifest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("shard: manifest: %w", err)
	}
	at(stepTmpSynced)
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("shard: manifest: %w", err)
	}
	at(stepRenamed)
	if err := wal.SyncDir(dir); err != nil {
		return fmt.Errorf("shard: manifest: %w", err)
	}
	at(stepDirSynced)
	return nil
}

// readManifest reads dir/MANIFEST; ok is false when there is none (a new
// data directory). A leftover MANIFEST.tmp is a write that never
// committed: it is removed.
func readManifest(dir string) (m *manifest, ok bool, err error) {
	_ = os.Remove(filepath.Join(dir, ManifestName+".tmp"))
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("shard: manifest: %w", err)
	}
	m = &manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := m.check(); err != nil {
		return nil, false, err
	}
	return m, true, nil
}

func (m *manifest) check() error {
	if m.Version != manifestVersion {
		return fmt.Errorf("%w: version %d (want %d)", ErrCorrupt, m.Version, manifestVersion)
	}
	d, err := ParseDuration(m.ShardDuration)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := OpenerFor(m.Engine); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	for _, s := range []string{m.Policy.WarmAfter, m.Policy.ColdAfter, m.Policy.Retention} {
		if _, err := time.ParseDuration(s); err != nil {
			return fmt.Errorf("%w: policy: %v", ErrCorrupt, err)
		}
	}
	seen := map[string]bool{}
	for _, s := range m.Shards {
		if s.ID != d.ID(s.Start) || s.Start != d.Start(s.Start) || s.End != s.Start+d.Milliseconds() || seen[s.ID] {
			return fmt.Errorf("%w: shard %q [%d, %d) is not a %s window", ErrCorrupt, s.ID, s.Start, s.End, d)
		}
		if s.State != Hot && s.State != Warm && s.State != Cold {
			return fmt.Errorf("%w: shard %s: state %q", ErrCorrupt, s.ID, s.State)
		}
		seen[s.ID] = true
	}
	return nil
}
