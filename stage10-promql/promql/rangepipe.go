package promql

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model"
)

// rangePipe shares a matrix selector's series out between the cores. The
// main goroutine reads the series from storage in order (SeriesSet is
// sequential, and stage06 decodes ahead of it on its own workers), groups
// consecutive ones into tasks and hands them to GOMAXPROCS workers that
// run rangeEval.series; then it takes the results back in series order
// and emits them. An aggregation therefore folds the series in the order
// a single goroutine would, and its sums come out the same to the bit: only
// the per-series work, which depends on nothing else, moves.
//
// A query too small to fill one task never starts a goroutine. A series
// that storage gives only as an iterator (no decoded slice to share) is
// evaluated on the main goroutine, after the tasks before it.
type rangePipe struct {
	ev   *evaluator
	re   *rangeEval // the main goroutine's
	rng  int64
	ref  refGrid
	keep bool
	emit emitFunc
	its  iterators
	buf  []Point // the main goroutine's points buffer, without keep

	workers int
	tasks   chan *rangeTask
	wg      sync.WaitGroup
	stopped atomic.Bool
	cur     *rangeTask   // being filled
	ring    []*rangeTask // dispatched, in series order
	free    []*rangeTask
}

// rangeTask is a run of consecutive series and, once done is closed,
// their results: series k's points are out[off[k]:off[k+1]] (or own[k]
// with keep, which must not share a buffer), its peak window peaks[k],
// its output labels labels[k] (rewritten by the worker).
type rangeTask struct {
	labels  []model.Labels
	drops   []bool   // each series' mark for delayed name removal (rewritten by the worker)
	names   []string // unless the selector fixes it, each series' nonCounterName (rate, increase)
	samples [][]Point
	sts     [][]int64  // with useST, the samples' start times (nil: none)
	metric  []string   // with useST, each series' name, for the start-time overlap warning
	overlap []int      // windows whose start times overlap (rangeEval.overlaps)
	its     []Iterator // to hand back to storage once the results are out; nil entries for none
	cost    int
	out     []Point
	off     []int
	own     [][]Point
	peaks   []int
	done    chan struct{}
}

// taskCost is about how much work (samples read plus steps evaluated) a
// task carries: a few tens of microseconds, large against the two channel
// operations that hand it over and back.
var taskCost = 16384 // a var for the tests, which make every series a task

// inlineSteps: a grid with more steps than this (only a subquery's can
// have them) is evaluated inline. Each series in flight may hold as many
// points as the limits leave (rangeEval.limit), and on the workers several
// series are in flight at once; inline there is one.
const inlineSteps = 1 << 20

// maxTaskSeries bounds a task of short series (an instant query): each
// series in flight holds a buffer of stage06's read-ahead until its
// iterator is handed back, so a task of 800 series would keep a few MB of
// them from being reused.
const maxTaskSeries = 64

func (ev *evaluator) newRangePipe(re *rangeEval, rng int64, ref refGrid, keep bool, emit emitFunc) *rangePipe {
	w := runtime.GOMAXPROCS(0)
	if w < 2 || ev.steps > inlineSteps {
		w = 0 // everything inline
	}
	p := &rangePipe{ev: ev, re: re, rng: rng, ref: ref, keep: keep, emit: emit, workers: w}
	p.its.explicit = true
	return p
}

// add takes the next series from storage.
func (p *rangePipe) add(s StorageSeries) error {
	samples, it, ok := p.its.samplesOf(s)
	if !ok {
		// Only an iterator: drain what is in flight, then slide it here.
		if err := p.flush(); err != nil {
			return err
		}
		var pts []Point
		if !p.keep {
			pts = p.buf[:0]
		}
		pts, peak := p.re.series(nil, nil, it, true, p.rng, p.ref, pts)
		if !p.keep {
			p.buf = pts
		}
		if err := it.Err(); err != nil {
			return err
		}
		p.re.checkCounter(p.re.nonCounterName(s.Labels()), pts)
		l, drop := p.re.outLabels(s.Labels(), false, pts)
		err := p.ev.emitRange(l, drop, pts, peak, p.emit)
		p.its.done(it)
		return err
	}
	t := p.cur
	if t == nil {
		t = p.newTask()
		p.cur = t
	}
	t.labels = append(t.labels, s.Labels())
	t.drops = append(t.drops, false)
	if p.re.counterInfo && !p.re.nameFixed {
		t.names = append(t.names, p.re.nonCounterName(s.Labels()))
	}
	t.samples = append(t.samples, samples)
	if p.re.useST {
		var sts []int64
		if st, ok := s.(startTimestamper); ok {
			sts = st.StartTimestamps()
		}
		t.sts = append(t.sts, sts)
		// The name for the start-time overlap warning, before the
		// worker drops it.
		t.metric = append(t.metric, s.Labels().Name())
	}
	t.its = append(t.its, it)
	if t.cost += len(samples) + p.ev.steps; t.cost < taskCost && len(t.labels) < maxTaskSeries {
		return nil
	}
	if p.workers == 0 {
		// One core: run the task here now, so that memory and
		// cancellation are per task, as with workers.
		p.cur = nil
		p.run(p.re, t)
		return p.emitTask(t)
	}
	return p.dispatch()
}

func (p *rangePipe) newTask() *rangeTask {
	if n := len(p.free); n > 0 {
		t := p.free[n-1]
		p.free = p.free[:n-1]
		return t
	}
	return &rangeTask{}
}

// dispatch hands the current task to the workers, starting them the first
// time, and first retires the oldest task if enough are in flight.
func (p *rangePipe) dispatch() error {
	t := p.cur
	p.cur = nil
	if p.tasks == nil {
		p.tasks = make(chan *rangeTask, 2*p.workers)
		for range p.workers {
			p.wg.Add(1)
			go p.work(p.re.clone())
		}
	}
	if len(p.ring) == cap(p.tasks) {
		if err := p.retire(); err != nil {
			return err
		}
	}
	t.done = make(chan struct{})
	p.ring = append(p.ring, t)
	p.tasks <- t // never blocks: at most cap(tasks) are in flight
	return nil
}

func (p *rangePipe) work(re *rangeEval) {
	defer p.wg.Done()
	for t := range p.tasks {
		if !p.stopped.Load() {
			p.run(re, t)
		}
		close(t.done)
	}
}

// run evaluates the series of t with re.
func (p *rangePipe) run(re *rangeEval, t *rangeTask) {
	t.out, t.off, t.own, t.peaks, t.overlap = t.out[:0], append(t.off[:0], 0), t.own[:0], t.peaks[:0], t.overlap[:0]
	for k, samples := range t.samples {
		var pts []Point
		if !p.keep {
			pts = t.out
		}
		re.w.overlaps = 0
		var sts []int64
		if len(t.sts) > 0 {
			sts = t.sts[k]
		}
		pts, peak := re.series(samples, sts, nil, true, p.rng, p.ref, pts)
		t.overlap = append(t.overlap, re.w.overlaps)
		if p.keep {
			t.own = append(t.own, pts)
		} else {
			t.out = pts
			t.off = append(t.off, len(pts))
			pts = pts[t.off[k]:]
		}
		t.labels[k], t.drops[k] = re.outLabels(t.labels[k], t.drops[k], pts)
		t.peaks = append(t.peaks, peak)
	}
}

// retire waits for the oldest task in flight, emits its series and hands
// their iterators back to storage.
func (p *rangePipe) retire() error {
	t := p.ring[0]
	p.ring = p.ring[1:]
	<-t.done
	return p.emitTask(t)
}

func (p *rangePipe) emitTask(t *rangeTask) error {
	for k, l := range t.labels {
		// A storage error comes before anything computed from the
		// samples it cut short.
		if it := t.its[k]; it != nil {
			if err := it.Err(); err != nil {
				return err
			}
		}
		var pts []Point
		if p.keep {
			pts = t.own[k]
		} else {
			pts = t.out[t.off[k]:t.off[k+1]:t.off[k+1]] // an emit that appends must not write over series k+1
		}
		if len(t.names) > 0 {
			p.re.checkCounter(t.names[k], pts)
		} else {
			p.re.checkCounter(p.re.fixedNonCounter, pts)
		}
		if t.overlap[k] > 0 {
			p.ev.annos.add(startTimeOverlapWarning(t.metric[k], t.overlap[k], p.re.argPos))
		}
		if err := p.ev.emitRange(l, t.drops[k], pts, t.peaks[k], p.emit); err != nil {
			return err
		}
		if it := t.its[k]; it != nil {
			p.its.done(it)
		}
	}
	clear(t.labels)
	clear(t.drops)
	clear(t.names)
	clear(t.samples)
	clear(t.sts)
	clear(t.metric)
	clear(t.its)
	clear(t.own)
	t.labels, t.drops, t.names, t.samples, t.its, t.own, t.cost = t.labels[:0], t.drops[:0], t.names[:0], t.samples[:0], t.its[:0], t.own[:0], 0
	t.sts, t.metric = t.sts[:0], t.metric[:0]
	p.free = append(p.free, t)
	return nil
}

// flush evaluates and emits everything added so far.
func (p *rangePipe) flush() error {
	if t := p.cur; t != nil {
		if p.tasks == nil {
			// Never reached a task's size: no goroutines, run it here.
			p.cur = nil
			p.run(p.re, t)
			if err := p.emitTask(t); err != nil {
				return err
			}
		} else if err := p.dispatch(); err != nil {
			return err
		}
	}
	for len(p.ring) > 0 {
		if err := p.retire(); err != nil {
			return err
		}
	}
	return nil
}

// finish flushes and stops the workers.
func (p *rangePipe) finish() error {
	err := p.flush()
	p.stop()
	return err
}

// stop ends the workers and waits for them: they read sample slices that
// storage may release once the query returns. Tasks still queued are
// skipped. Safe to call twice.
func (p *rangePipe) stop() {
	if p.tasks != nil && !p.stopped.Swap(true) {
		close(p.tasks)
		p.wg.Wait()
	}
}
