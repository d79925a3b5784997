package rollup

import (
	"fmt"

	"github.com/tsdb-course/stage08-shards/shard"
)

// TierDeletion is what retention deleted from one tier.
type TierDeletion struct {
	Tier        string
	Shards      []shard.Deletion
	SketchBytes int64 // sketch files removed with them
}

// EnforceRetention applies every tier's retention by the clock: stage08
// deletes each shard whose whole window ended more than the tier's
// retention ago (shard.Manager.EnforceRetention), and the sketch files of
// the same windows go with them. Run the jobs first: a window deleted
// from a tier before the next tier rolled it up is lost to that tier.
func (e *Engine) EnforceRetention() ([]TierDeletion, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	now := e.now()
	var out []TierDeletion
	for i, t := range e.tiers {
		d, err := e.mgrs[i].EnforceRetention()
		td := TierDeletion{Tier: t.Name, Shards: d}
		if err != nil {
			return out, fmt.Errorf("rollup: tier %s: %w", t.Name, err)
		}
		if e.sketches[i] != nil && t.Retention > 0 {
			if td.SketchBytes, err = e.sketches[i].expire(now.Add(-t.Retention).UnixMilli()); err != nil {
				return out, err
			}
		}
		out = append(out, td)
	}
	return out, nil
}
