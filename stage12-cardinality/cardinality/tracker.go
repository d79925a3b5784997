package cardinality

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/tsdb-course/stage01-memstore/model"
)

// TrackerOptions configure a Tracker. The zero value is valid.
type TrackerOptions struct {
	// TopSeries is the number of Space-Saving counters for series by
	// write frequency, spread over the shards. Defaults to 256.
	TopSeries int
	// TopLabelValues is the number of counters for label values by the
	// series they bring. Defaults to 1,024.
	TopLabelValues int
	// HistoryHours is how many hourly snapshots are kept. Defaults to
	// 720 (30 days).
	HistoryHours int
	// HistoryMetrics is how many of the largest metrics each snapshot
	// records beside the total. Defaults to 20.
	HistoryMetrics int
	// Now is the clock snapshots are stamped with. Defaults to time.Now.
	Now func() time.Time
}

func (o TrackerOptions) withDefaults() TrackerOptions {
	if o.TopSeries <= 0 {
		o.TopSeries = 256
	}
	if o.TopLabelValues <= 0 {
		o.TopLabelValues = 1024
	}
	if o.HistoryHours <= 0 {
		o.HistoryHours = 720
	}
	if o.HistoryMetrics <= 0 {
		o.HistoryMetrics = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// seriesShards spread the per-sample heavy-hitter counting over locks:
// every sample of a series goes to the shard its hash picks, so a series
// is counted in one shard only and the shards' entries need no merging.
const seriesShards = 16

// sampleSize is how many values of each label the tracker keeps for the
// analyzer to look at: the ones with the smallest hashes, a uniform
// sample of the distinct values (and mergeable: the union's smallest).
const sampleSize = 8

// LabelValue names one value of one label of one metric.
type LabelValue struct{ Metric, Name, Value string }

// SeriesEntry is a heavy hitter among series: its labels and its
// Space-Saving count of samples (Count − Err ≤ true ≤ Count).
type SeriesEntry struct {
	Labels     model.Labels
	Hash       uint64
	Count, Err uint64
}

// Lower is the guaranteed part of the count: Count − Err ≤ true count.
func (e SeriesEntry) Lower() uint64 { return e.Count - e.Err }

// Snapshot is the tracker's estimates at one hour: the history the growth
// rate and the forecast are computed from.
type Snapshot struct {
	Time    time.Time
	Total   uint64
	Metrics map[string]uint64 // the largest metrics' series estimates
}

// Tracker follows a TSDB's cardinality as the guide's structure does: an
// HLL of all series, one per metric, one per (metric, label name) over
// the label's values; heavy hitters among series (by samples) and label
// values (by series); hourly snapshots. It is safe for concurrent use.
//
// It is fed two ways: AddSeries when a series is first seen (or Offer,
// which defers the work to a background worker: stage06's admission hook,
// through the Limiter, offers each new series, admitted or not), and
// Sample for every sample (cheap: one shard lock and one counter). Sketches only grow: a series that stops being written
// stays counted, which is what "series seen in the period" means.
type Tracker struct {
	opts TrackerOptions

	mu      sync.Mutex // the sketches below
	global  *HLL
	metrics map[string]*metricSketch
	values  *TopK[LabelValue]
	history []Snapshot

	shards [seriesShards]seriesShard

	// The intake of Offer: series collected in batches that a worker
	// goroutine (running only while there are batches) adds, so that the
	// TSDB's series creation, which calls Offer under its lock, pays for
	// an append, not for the sketches.
	inMu    sync.Mutex
	idle    *sync.Cond // on inMu: signalled when the worker stops
	pending []seriesEvent
	queue   [][]seriesEvent
	working bool
}

type seriesEvent struct {
	lset    model.Labels
	hash    uint64
	created bool
}

// Intake sizes: a batch is handed to the worker at intakeBatch series;
// past intakeQueue batches waiting, Offer adds them itself (so a worker
// that falls behind slows creation down rather than growing memory).
const (
	intakeBatch = 1024
	intakeQueue = 64
)

type metricSketch struct {
	series *HLL
	labels map[string]*labelSketch
}

type labelSketch struct {
	values *HLL
	sample []valueSample // sorted by hash, at most sampleSize
}

type valueSample struct {
	hash  uint64
	value string
}

type seriesShard struct {
	mu  sync.Mutex
	top *seriesTop // the counted keys' labels with them
	_   [64]byte   // keeps shards' locks on separate cache lines
}

// NewTracker returns an empty tracker.
func NewTracker(opts TrackerOptions) *Tracker {
	opts = opts.withDefaults()
	t := &Tracker{
		opts:    opts,
		global:  New(),
		metrics: map[string]*metricSketch{},
		values:  NewTopK[LabelValue](opts.TopLabelValues),
	}
	t.idle = sync.NewCond(&t.inMu)
	per := max(1, (opts.TopSeries+seriesShards-1)/seriesShards)
	for i := range t.shards {
		t.shards[i].top = newSeriesTop(per)
	}
	return t
}

// Offer is AddSeries deferred: the series is queued and added in the
// background, in batches. Every reader of the tracker (Total, Metrics,
// Snapshot, Save …) first waits for what was offered before it, so no
// offered series is ever missing from an answer. lset must not be changed
// afterwards (stage01's Labels are not).
func (t *Tracker) Offer(lset model.Labels, hash uint64, created bool) {
	t.inMu.Lock()
	t.pending = append(t.pending, seriesEvent{lset, hash, created})
	var inline []seriesEvent
	if len(t.pending) >= intakeBatch {
		if len(t.queue) >= intakeQueue {
			inline = t.pending
		} else {
			t.queue = append(t.queue, t.pending)
			if !t.working {
				t.working = true
				go t.work()
			}
		}
		t.pending = make([]seriesEvent, 0, intakeBatch)
	}
	t.inMu.Unlock()
	if inline != nil {
		t.addBatch(inline)
	}
}

// work adds queued batches until there are none.
func (t *Tracker) work() {
	for {
		t.inMu.Lock()
		if len(t.queue) == 0 {
			t.working = false
			t.idle.Broadcast()
			t.inMu.Unlock()
			return
		}
		b := t.queue[0]
		t.queue = t.queue[1:]
		t.inMu.Unlock()
		t.addBatch(b)
	}
}

// Flush adds every series offered so far.
func (t *Tracker) Flush() {
	t.inMu.Lock()
	for t.working {
		t.idle.Wait()
	}
	batches := append(t.queue, t.pending)
	t.queue, t.pending = nil, nil
	t.inMu.Unlock()
	for _, b := range batches {
		t.addBatch(b)
	}
}

func (t *Tracker) addBatch(b []seriesEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range b {
		t.addSeriesLocked(e.lset, e.hash, e.created)
	}
}

// AddSeries records a series seen for the first time (hash is
// lset.Hash()). created says whether the TSDB created it: refused
// series count in the HLLs (they show the demand) but not among the label
// values by series (those show what is stored). Seeing a series again is
// harmless for the HLLs.
func (t *Tracker) AddSeries(lset model.Labels, hash uint64, created bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addSeriesLocked(lset, hash, created)
}

func (t *Tracker) addSeriesLocked(lset model.Labels, hash uint64, created bool) {
	metric := lset.Name()
	t.global.Add(hash)
	m := t.metric(metric)
	m.series.Add(hash)
	for l := range lset.All() {
		if l.Name == model.MetricName {
			continue
		}
		ls := m.labels[l.Name]
		if ls == nil {
			ls = &labelSketch{values: New()}
			m.labels[l.Name] = ls
		}
		vh := xxhash.Sum64String(l.Value)
		ls.values.Add(vh)
		ls.offer(vh, l.Value)
		if created {
			t.values.Add(LabelValue{Metric: metric, Name: l.Name, Value: l.Value}, 1)
		}
	}
}

// SeriesCreated is AddSeries of a created series.
func (t *Tracker) SeriesCreated(lset model.Labels, hash uint64) { t.AddSeries(lset, hash, true) }

func (t *Tracker) metric(name string) *metricSketch {
	m := t.metrics[name]
	if m == nil {
		m = &metricSketch{series: New(), labels: map[string]*labelSketch{}}
		t.metrics[name] = m
	}
	return m
}

// offer keeps the value if its hash is among the sampleSize smallest.
func (l *labelSketch) offer(h uint64, v string) {
	n := len(l.sample)
	if n == sampleSize && h >= l.sample[n-1].hash {
		return
	}
	i, found := slices.BinarySearchFunc(l.sample, h, func(s valueSample, h uint64) int { return cmp.Compare(s.hash, h) })
	if found {
		return
	}
	if n == sampleSize {
		l.sample = l.sample[:n-1]
	}
	l.sample = slices.Insert(l.sample, i, valueSample{h, v})
}

// Sample counts one sample of a series (hash is lset.Hash()) towards the
// heavy hitters. lset is kept, not copied, while the series has a
// counter: it must not be changed afterwards (stage01's Labels are not).
func (t *Tracker) Sample(hash uint64, lset model.Labels) {
	s := &t.shards[hash>>60]
	s.mu.Lock()
	s.top.Add(hash, lset)
	s.mu.Unlock()
}

// Total is the estimated number of distinct series seen.
func (t *Tracker) Total() uint64 {
	t.Flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.global.Count()
}

// MetricCard is one metric's estimates.
type MetricCard struct {
	Name   string
	Series uint64
	Labels []LabelCard // by distinct values, most first
}

// LabelCard is one label's estimate within a metric, with a sample of its
// values (uniform over the distinct values).
type LabelCard struct {
	Name   string
	Values uint64
	Sample []string
}

// Metrics returns every metric's estimates, the most series first.
func (t *Tracker) Metrics() []MetricCard {
	t.Flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]MetricCard, 0, len(t.metrics))
	for name, m := range t.metrics {
		out = append(out, m.card(name))
	}
	slices.SortFunc(out, func(a, b MetricCard) int {
		return cmp.Or(cmp.Compare(b.Series, a.Series), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Metric returns one metric's estimates.
func (t *Tracker) Metric(name string) (MetricCard, bool) {
	t.Flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.metrics[name]
	if !ok {
		return MetricCard{}, false
	}
	return m.card(name), true
}

func (m *metricSketch) card(name string) MetricCard {
	c := MetricCard{Name: name, Series: m.series.Count()}
	for ln, l := range m.labels {
		lc := LabelCard{Name: ln, Values: l.values.Count()}
		for _, s := range l.sample {
			lc.Sample = append(lc.Sample, s.value)
		}
		c.Labels = append(c.Labels, lc)
	}
	slices.SortFunc(c.Labels, func(a, b LabelCard) int {
		return cmp.Or(cmp.Compare(b.Values, a.Values), cmp.Compare(a.Name, b.Name))
	})
	return c
}

// TopSeries returns the n series with the most samples (all tracked
// ones if n ≤ 0), most first.
func (t *Tracker) TopSeries(n int) []SeriesEntry {
	var out []SeriesEntry
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, e := range s.top.Top() {
			out = append(out, SeriesEntry{Labels: s.top.Labels(e.Key), Hash: e.Key, Count: e.Count, Err: e.Err})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b SeriesEntry) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Hash, b.Hash))
	})
	if n > 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// TopLabelValues returns the n label values that brought the most series
// (all tracked ones if n ≤ 0), most first.
func (t *Tracker) TopLabelValues(n int) []Entry[LabelValue] {
	t.Flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.values.Top(n)
}

// Snapshot records the current estimates in the history, stamped with
// the clock's hour: a second snapshot in the same hour replaces the
// first. The owner calls it (at least) hourly; MaybeSnapshot does when
// the hour has changed.
func (t *Tracker) Snapshot() Snapshot {
	now := t.opts.Now().Truncate(time.Hour)
	t.Flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{Time: now, Total: t.global.Count(), Metrics: map[string]uint64{}}
	type mc struct {
		name string
		n    uint64
	}
	all := make([]mc, 0, len(t.metrics))
	for name, m := range t.metrics {
		all = append(all, mc{name, m.series.Count()})
	}
	slices.SortFunc(all, func(a, b mc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	for _, m := range all[:min(len(all), t.opts.HistoryMetrics)] {
		s.Metrics[m.name] = m.n
	}
	if n := len(t.history); n > 0 && t.history[n-1].Time.Equal(now) {
		t.history[n-1] = s
	} else {
		t.history = append(t.history, s)
	}
	if extra := len(t.history) - t.opts.HistoryHours; extra > 0 {
		t.history = slices.Delete(t.history, 0, extra)
	}
	return s
}

// MaybeSnapshot takes a snapshot if none exists for the clock's hour.
func (t *Tracker) MaybeSnapshot() bool {
	hour := t.opts.Now().Truncate(time.Hour)
	t.mu.Lock()
	n := len(t.history)
	due := n == 0 || t.history[n-1].Time.Before(hour)
	t.mu.Unlock()
	if due {
		t.Snapshot()
	}
	return due
}

// History returns the hourly snapshots, oldest first.
func (t *Tracker) History() []Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.history)
}

// Merge adds everything o has seen to t (another node's tracker, or
// another period's): HLLs merge register-wise, the Space-Saving
// summaries by Merge, value samples by keeping the smallest hashes.
// History is not merged (each node keeps its own).
func (t *Tracker) Merge(o *Tracker) {
	if t == o {
		return
	}
	t.Flush()
	o.Flush()
	o.mu.Lock()
	t.mu.Lock()
	t.global.Merge(o.global)
	for name, om := range o.metrics {
		m := t.metric(name)
		m.series.Merge(om.series)
		for ln, ol := range om.labels {
			l := m.labels[ln]
			if l == nil {
				l = &labelSketch{values: New()}
				m.labels[ln] = l
			}
			l.values.Merge(ol.values)
			for _, s := range ol.sample {
				l.offer(s.hash, s.value)
			}
		}
	}
	t.values.Merge(o.values)
	t.mu.Unlock()
	o.mu.Unlock()
	for i := range t.shards {
		s, os := &t.shards[i], &o.shards[i]
		os.mu.Lock()
		s.mu.Lock()
		s.top.Merge(os.top)
		s.mu.Unlock()
		os.mu.Unlock()
	}
}
