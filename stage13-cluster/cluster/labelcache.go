package cluster

import (
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// labelCache maps a series' label fields as a remote write carries them
// (remote.TimeSeries.Key) to its label set and the set's hash: a
// coordinator sees the same series at every scrape, and builds, checks,
// sorts and hashes each one's labels once instead of at every write. It is
// bounded: past max series it starts again (each series then pays one
// build again). Safe for concurrent use.
type labelCache struct {
	mu  sync.RWMutex
	m   map[string]wireSeries
	max int
}

type wireSeries struct {
	lset model.Labels
	hash uint64
}

func newLabelCache(max int) *labelCache {
	return &labelCache{m: map[string]wireSeries{}, max: max}
}

// get returns the label set of ts and its hash (a nil cache builds them
// every time). The label set is checked as remote write demands
// (TimeSeries.ModelLabels) the first time; an error is not cached.
func (c *labelCache) get(ts *remote.TimeSeries) (model.Labels, uint64, error) {
	if c != nil {
		c.mu.RLock()
		e, ok := c.m[string(ts.Key)]
		c.mu.RUnlock()
		if ok {
			return e.lset, e.hash, nil
		}
	}
	lset, err := ts.ModelLabels()
	if err != nil {
		return model.Labels{}, 0, err
	}
	h := lset.Hash()
	if c != nil {
		c.mu.Lock()
		if len(c.m) >= c.max {
			clear(c.m)
		}
		c.m[string(ts.Key)] = wireSeries{lset, h}
		c.mu.Unlock()
	}
	return lset, h, nil
}

// len is the number of series cached.
func (c *labelCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
