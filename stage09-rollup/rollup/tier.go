package rollup

import (
	"errors"
	"fmt"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

// Tier is one resolution of the data: the raw tier (Resolution 0: samples
// as written) or a rollup tier of one aggregate per series per window of
// Resolution, kept Retention (0: forever).
type Tier struct {
	Name       string
	Resolution time.Duration
	Retention  time.Duration
}

const day = 24 * time.Hour

// DefaultTiers are the guide's: raw 7 d, 1 m rollups 30 d, 1 h rollups a
// year, 1 d rollups forever.
var DefaultTiers = []Tier{
	{Name: "raw", Retention: 7 * day},
	{Name: "1m", Resolution: time.Minute, Retention: 30 * day},
	{Name: "1h", Resolution: time.Hour, Retention: 365 * day},
	{Name: "1d", Resolution: day},
}

// ErrConfig rejects a tier configuration that is invalid or contradicts
// the one the data directory was created with.
var ErrConfig = errors.New("rollup: bad tier configuration")

// checkTiers validates a configuration: the raw tier first, then rollup
// tiers each a whole multiple of the previous one (so a window of one
// tier is a whole number of windows of the tier below, and is rolled up
// from them), every resolution a divisor of a week (windows then align
// with the shards, which start on UTC hours, days or Mondays).
func checkTiers(ts []Tier) error {
	if len(ts) < 2 {
		return fmt.Errorf("%w: want a raw tier and at least one rollup tier", ErrConfig)
	}
	if ts[0].Resolution != 0 {
		return fmt.Errorf("%w: the first tier is raw (resolution 0), got %s", ErrConfig, ts[0].Resolution)
	}
	names := map[string]bool{}
	for i, t := range ts {
		if t.Name == "" || t.Name == stateFile || names[t.Name] || t.Name != safeName(t.Name) {
			return fmt.Errorf("%w: tier %d: name %q must be unique and [a-zA-Z0-9_-]", ErrConfig, i, t.Name)
		}
		names[t.Name] = true
		if t.Retention < 0 {
			return fmt.Errorf("%w: tier %s: negative retention", ErrConfig, t.Name)
		}
		if i == 0 {
			continue
		}
		r := t.Resolution
		if r < time.Millisecond || r%time.Millisecond != 0 || (7*day)%r != 0 {
			return fmt.Errorf("%w: tier %s: resolution %s must be whole ms dividing a week", ErrConfig, t.Name, r)
		}
		if prev := ts[i-1].Resolution; prev != 0 && (r <= prev || r%prev != 0) {
			return fmt.Errorf("%w: tier %s: resolution %s is not a multiple of %s", ErrConfig, t.Name, r, prev)
		}
	}
	return nil
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			b[i] = '_'
		}
	}
	return string(b)
}

// shardDuration is the shard window of a tier: a day for raw, a week for
// rollups (a week of 1-minute windows is 10,080 points per series).
func (t Tier) shardDuration() shard.Duration {
	if t.Resolution == 0 {
		return shard.Day
	}
	return shard.Week
}

// res is the resolution in ms (0 for raw).
func (t Tier) res() int64 { return t.Resolution.Milliseconds() }

// floorTo and ceilTo align t (ms) to a multiple of n, floor division so
// times before 1970 align too.
func floorTo(t, n int64) int64 { return model.FloorDiv(t, n) * n }

func ceilTo(t, n int64) int64 {
	f := floorTo(t, n)
	if f < t {
		f += n
	}
	return f
}
