package rollup

import (
	"os"
	"path/filepath"
	"time"
)

// TierStatus describes one tier for the status command.
type TierStatus struct {
	Tier
	// Watermark: every window before it is rolled up (zero before the
	// first run; always zero for raw).
	Watermark time.Time
	Dirty     int // windows waiting to be recomputed
	// LastRun: the newest run that found new windows: when, and the
	// windows [LastFrom, LastTo) it processed.
	LastRun, LastFrom, LastTo time.Time
	LastWindows               int
	Shards                    int
	Points                    int64 // samples stored (rollup: 4 per point)
	Bytes                     int64 // shards and sketch files on disk
	Oldest                    time.Time
}

// Status describes every tier.
func (e *Engine) Status() ([]TierStatus, error) {
	var out []TierStatus
	for i, t := range e.tiers {
		ts := TierStatus{Tier: t}
		e.stMu.Lock()
		st := e.st.Tiers[i]
		if st.Watermark != nil {
			ts.Watermark = time.UnixMilli(*st.Watermark).UTC()
		}
		if l := st.Last; l != nil {
			ts.LastRun, ts.LastFrom, ts.LastTo = time.UnixMilli(l.At).UTC(), time.UnixMilli(l.From).UTC(), time.UnixMilli(l.To).UTC()
			ts.LastWindows = l.Windows
		}
		ts.Dirty = len(e.dirty[i])
		e.stMu.Unlock()
		infos, err := e.mgrs[i].Shards()
		if err != nil {
			return nil, err
		}
		ts.Shards = len(infos)
		for j, s := range infos {
			if j == 0 {
				ts.Oldest = s.Start
			}
			ts.Points += s.Points
			ts.Bytes += s.Bytes
		}
		if e.sketches[i] != nil {
			entries, _ := os.ReadDir(e.sketches[i].dir)
			for _, en := range entries {
				if fi, err := os.Stat(filepath.Join(e.sketches[i].dir, en.Name())); err == nil {
					ts.Bytes += fi.Size()
				}
			}
		}
		out = append(out, ts)
	}
	return out, nil
}
