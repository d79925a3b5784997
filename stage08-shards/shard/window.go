package shard

import (
	"fmt"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Duration is the span of a shard's window. Windows are aligned to UTC
// boundaries: the hour, midnight, and Monday midnight (ISO weeks), so all
// the data of one day is in one daily shard whatever the writer's zone.
type Duration int

const (
	Hour Duration = iota + 1
	Day
	Week
)

// ParseDuration parses "hour", "day" or "week" (also "1h", "24h", "1d", "7d", "168h", "1w").
func ParseDuration(s string) (Duration, error) {
	switch s {
	case "hour", "1h":
		return Hour, nil
	case "day", "1d", "24h":
		return Day, nil
	case "week", "1w", "7d", "168h":
		return Week, nil
	}
	return 0, fmt.Errorf("shard: unknown shard duration %q (want hour, day or week)", s)
}

func (d Duration) String() string {
	switch d {
	case Hour:
		return "hour"
	case Day:
		return "day"
	case Week:
		return "week"
	}
	return fmt.Sprintf("Duration(%d)", int(d))
}

// Milliseconds is the window's length in ms.
func (d Duration) Milliseconds() int64 {
	switch d {
	case Hour:
		return int64(time.Hour / time.Millisecond)
	case Day:
		return int64(24 * time.Hour / time.Millisecond)
	case Week:
		return int64(7 * 24 * time.Hour / time.Millisecond)
	}
	return 0
}

// weekOffset shifts week windows from the epoch (a Thursday) to Mondays:
// 1970-01-05 was the first Monday.
const weekOffset = 4 * 24 * int64(time.Hour/time.Millisecond)

func (d Duration) offset() int64 {
	if d == Week {
		return weekOffset
	}
	return 0
}

// Start is the start (ms, inclusive) of the window holding t (ms): t
// truncated to the boundary, the guide's truncate_to_boundary. Floor
// division, so times before 1970 land in the right window too.
func (d Duration) Start(t int64) int64 {
	n, off := d.Milliseconds(), d.offset()
	return model.FloorDiv(t-off, n)*n + off
}

// ID is the shard ID of the window starting at start (ms): shard_2024-01-15
// for a day, shard_2024-01-15T13 for an hour, shard_2024-W03 for a week.
// IDs sort in time order within one duration.
func (d Duration) ID(start int64) string {
	t := time.UnixMilli(start).UTC()
	switch d {
	case Hour:
		return "shard_" + t.Format("2006-01-02T15")
	case Week:
		y, w := t.ISOWeek()
		return fmt.Sprintf("shard_%04d-W%02d", y, w)
	}
	return "shard_" + t.Format("2006-01-02")
}
