package cardinality

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// ErrSeriesLimit is what a refused series' error matches (errors.Is).
var ErrSeriesLimit = errors.New("cardinality: series limit reached")

// LimitError is the error of a refused series: which limit, at what count.
type LimitError struct {
	Metric string // the refused series' metric
	Limit  int    // the limit it hit
	Count  int    // series at the time: of the metric, or of all if Global
	Global bool   // the global limit, not the metric's
}

func (e *LimitError) Error() string {
	if e.Global {
		return fmt.Sprintf("cardinality: series limit reached: global limit %d, current %d series; new series of metric %q refused",
			e.Limit, e.Count, e.Metric)
	}
	return fmt.Sprintf("cardinality: series limit reached: metric %q limit %d, current %d series; new series refused",
		e.Metric, e.Limit, e.Count)
}

// Is makes errors.Is(err, ErrSeriesLimit) hold.
func (e *LimitError) Is(target error) bool { return target == ErrSeriesLimit }

// Limits are the series limits. 0 means no limit.
type Limits struct {
	// Default is the limit of a metric not in PerMetric.
	Default int `json:"default"`
	// Global caps the series of all metrics together.
	Global int `json:"global"`
	// PerMetric overrides Default for the metrics it names (0 there: no
	// limit for that metric).
	PerMetric map[string]int `json:"per_metric,omitempty"`
}

// For is the limit of a metric (0: none).
func (l Limits) For(metric string) int {
	if n, ok := l.PerMetric[metric]; ok {
		return n
	}
	return l.Default
}

// LimiterOptions configure a Limiter. The zero value is valid.
type LimiterOptions struct {
	// Tracker, if set, is offered every new series the limiter is asked
	// about, admitted or refused (Tracker.Offer: added in the background,
	// off stage06's series-creation lock).
	Tracker *Tracker
	// Now is the clock of the dropped-writes windows. Defaults to time.Now.
	Now func() time.Time
}

// Limiter is admission control at series creation. Its Admit is a
// tsdb.AdmitFunc: stage06 asks it only before creating a series, so
// samples of existing series never reach it and cost nothing more; it
// checks the exact counts stage06 passes (from the head's stage05 index),
// never an estimate. A refused series is a dropped write, counted per
// metric, in total and over the last hour. Safe for concurrent use.
type Limiter struct {
	limits atomic.Pointer[Limits]
	opts   LimiterOptions

	mu      sync.Mutex
	dropped map[string]*dropCount
}

// dropCount counts one metric's dropped writes: since the start, and per
// minute over the last hour (a ring of 60 minutes).
type dropCount struct {
	total   uint64
	minutes [60]uint64
	stamps  [60]int64 // the unix minute each slot counts
}

func (d *dropCount) add(minute int64) {
	d.total++
	i := minute % 60
	if d.stamps[i] != minute {
		d.stamps[i], d.minutes[i] = minute, 0
	}
	d.minutes[i]++
}

func (d *dropCount) lastHour(minute int64) uint64 {
	var n uint64
	for i, s := range d.stamps {
		if s > minute-60 && s <= minute {
			n += d.minutes[i]
		}
	}
	return n
}

// NewLimiter returns a limiter enforcing l.
func NewLimiter(l Limits, opts LimiterOptions) *Limiter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lim := &Limiter{opts: opts, dropped: map[string]*dropCount{}}
	lim.SetLimits(l)
	return lim
}

// SetLimits replaces the limits; series already stored are not touched
// (a lowered limit refuses new series only).
func (l *Limiter) SetLimits(lim Limits) {
	c := lim
	c.PerMetric = make(map[string]int, len(lim.PerMetric))
	for k, v := range lim.PerMetric {
		c.PerMetric[k] = v
	}
	l.limits.Store(&c)
}

// Limits returns the limits in force.
func (l *Limiter) Limits() Limits { return *l.limits.Load() }

// Admit decides on a series about to be created; it is a tsdb.AdmitFunc.
// stage06 calls it with series creation serialised, so the counts cannot
// move during the call.
func (l *Limiter) Admit(lset model.Labels, hash uint64, counts tsdb.SeriesCounts) error {
	metric := lset.Name()
	lim := l.limits.Load()
	var err error
	if n := lim.For(metric); n > 0 {
		if c := counts.MetricSeries(metric); c >= n {
			err = &LimitError{Metric: metric, Limit: n, Count: c}
		}
	}
	if err == nil && lim.Global > 0 {
		if c := counts.NumSeries(); c >= lim.Global {
			err = &LimitError{Metric: metric, Limit: lim.Global, Count: c, Global: true}
		}
	}
	if t := l.opts.Tracker; t != nil {
		t.Offer(lset, hash, err == nil)
	}
	if err != nil {
		l.drop(metric)
	}
	return err
}

func (l *Limiter) drop(metric string) {
	minute := l.opts.Now().Unix() / 60
	l.mu.Lock()
	d := l.dropped[metric]
	if d == nil {
		d = &dropCount{}
		l.dropped[metric] = d
	}
	d.add(minute)
	l.mu.Unlock()
}

// Dropped are one metric's refused writes.
type Dropped struct {
	Metric   string
	Total    uint64 // since the limiter started (or its state was loaded)
	LastHour uint64 // in the 60 minutes up to now
}

// Dropped returns the dropped writes of every metric that had any, the
// most in the last hour first.
func (l *Limiter) Dropped() []Dropped {
	minute := l.opts.Now().Unix() / 60
	l.mu.Lock()
	out := make([]Dropped, 0, len(l.dropped))
	for m, d := range l.dropped {
		out = append(out, Dropped{Metric: m, Total: d.total, LastHour: d.lastHour(minute)})
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Dropped) int {
		return cmp.Or(cmp.Compare(b.LastHour, a.LastHour), cmp.Compare(b.Total, a.Total), cmp.Compare(a.Metric, b.Metric))
	})
	return out
}

// DroppedFor returns one metric's dropped writes.
func (l *Limiter) DroppedFor(metric string) Dropped {
	minute := l.opts.Now().Unix() / 60
	l.mu.Lock()
	defer l.mu.Unlock()
	d := Dropped{Metric: metric}
	if c := l.dropped[metric]; c != nil {
		d.Total, d.LastHour = c.total, c.lastHour(minute)
	}
	return d
}

// MetricStatus is one metric's standing against its limit.
type MetricStatus struct {
	Metric   string
	Limit    int // 0: none
	Current  int // exact series now (from the index)
	Dropped  Dropped
	Exceeded bool // Current ≥ Limit: new series are being refused
}

// Status reports every metric that has a limit of its own, series in
// counts, or dropped writes: metrics lists the metrics to consider (the
// caller's, e.g. the index's __name__ values), the rest are added.
func (l *Limiter) Status(counts tsdb.SeriesCounts, metrics []string) []MetricStatus {
	lim := l.Limits()
	seen := map[string]bool{}
	var out []MetricStatus
	add := func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		s := MetricStatus{Metric: m, Limit: lim.For(m), Current: counts.MetricSeries(m), Dropped: l.DroppedFor(m)}
		s.Exceeded = s.Limit > 0 && s.Current >= s.Limit
		out = append(out, s)
	}
	for _, m := range metrics {
		add(m)
	}
	for m := range lim.PerMetric {
		add(m)
	}
	for _, d := range l.Dropped() {
		add(d.Metric)
	}
	slices.SortFunc(out, func(a, b MetricStatus) int {
		return cmp.Or(cmp.Compare(b.Current, a.Current), cmp.Compare(a.Metric, b.Metric))
	})
	return out
}

// LimitsFile is the limiter's file inside its directory: the limits
// (which an operator may edit) and the dropped-write counters.
const LimitsFile = "limits.json"

type limitsState struct {
	Limits  Limits                `json:"limits"`
	Dropped map[string]*dropState `json:"dropped,omitempty"`
}

type dropState struct {
	Total   uint64    `json:"total"`
	Minutes [60]int64 `json:"minute_stamps"`
	Counts  [60]int64 `json:"minute_counts"`
}

// Save writes the limits and dropped counters to dir/LimitsFile
// crash-safely.
func (l *Limiter) Save(dir string) error {
	st := limitsState{Limits: l.Limits(), Dropped: map[string]*dropState{}}
	l.mu.Lock()
	for m, d := range l.dropped {
		ds := &dropState{Total: d.total}
		for i := range d.stamps {
			ds.Minutes[i], ds.Counts[i] = d.stamps[i], int64(d.minutes[i])
		}
		st.Dropped[m] = ds
	}
	l.mu.Unlock()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("cardinality: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, LimitsFile), append(b, '\n'))
}

// LoadLimiter reads dir/LimitsFile; if there is none, the limiter starts
// with def and no dropped writes. ok reports whether the file existed.
func LoadLimiter(dir string, def Limits, opts LimiterOptions) (l *Limiter, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, LimitsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return NewLimiter(def, opts), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cardinality: %w", err)
	}
	var st limitsState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, false, fmt.Errorf("cardinality: %s: %w", filepath.Join(dir, LimitsFile), err)
	}
	if st.Limits.Default < 0 || st.Limits.Global < 0 {
		return nil, false, fmt.Errorf("cardinality: %s: negative limit", filepath.Join(dir, LimitsFile))
	}
	l = NewLimiter(st.Limits, opts)
	for m, ds := range st.Dropped {
		d := &dropCount{total: ds.Total}
		for i := range d.stamps {
			d.stamps[i], d.minutes[i] = ds.Minutes[i], uint64(max(ds.Counts[i], 0))
		}
		l.dropped[m] = d
	}
	return l, true, nil
}
