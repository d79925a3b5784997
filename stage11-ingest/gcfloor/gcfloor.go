// Package gcfloor gives Go's garbage collector a minimum heap goal.
//
// The collector lets the heap grow GOGC percent past what its last cycle
// found live before it runs again. An ingestion server with a small live
// heap (10,000 series: about 60 MiB) that allocates tens of MiB a second
// (request buffers, chunks growing, blocks being cut) then collects every
// second or so, and each cycle takes one P of four for 20-40 ms of marking,
// on a two-core machine half of it: the requests that arrive meanwhile
// queue (stage11 README, "Where a request waits"). The same server with a
// million series has a heap of gigabytes and collects every minute. A floor
// on the heap goal keeps the small heap's collections as rare as if it
// could grow to the floor, and changes nothing once the live heap is half
// the floor or more: the memory it costs is about the floor.
//
// Go has no such setting (golang.org/issue/23044 asked for one; GOMEMLIMIT
// bounds the heap from above, not below). Start sets GOGC after each cycle
// so that the next goal is the floor or GOGC's own, whichever is larger.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// minGoal is the runtime's smallest heap goal at GOGC=100: the goal is
// never under minGoal × GOGC/100, whatever is live.
const minGoal = 4 << 20

// maxGOGC bounds the percent set, so a tiny live heap cannot ask for an
// absurd one.
const maxGOGC = 100_000

// Start raises the collector's goal to floor bytes while the live heap is
// under it, from now and after each collection, and returns what stops it
// (GOGC is then restored). The GOGC in effect when it starts (the GOGC
// environment variable, or debug.SetGCPercent) is the least it sets; with
// the collector off (GOGC=off) it does nothing. GOMEMLIMIT still applies:
// near the limit the collector runs as often as it must.
func Start(floor uint64) (stop func()) {
	base := readGOGC()
	if base < 0 {
		return func() {}
	}
	t := &tuner{floor: floor, base: base}
	t.tune()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.stopped {
			t.stopped = true
			debug.SetGCPercent(base)
		}
	}
}

// tuned, if set (tests), hears each GOGC set after a collection.
var tuned func(gogc int)

type tuner struct {
	floor   uint64
	base    int
	mu      sync.Mutex // a tune after stop would undo its restore
	stopped bool
}

// sentinel is an object nothing references: its finalizer runs after the
// collection that finds it unreachable, and allocates the next, so GOGC is
// set at most once per cycle (a cycle that begins before the finalizer
// has run passes without one). Large enough not to share a tiny-allocator block
// whose other objects could keep it alive.
type sentinel struct{ _ [64]byte }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		g, ok := t.tune()
		if !ok {
			return // stopped: no next sentinel
		}
		t.arm() // before the hook: a test that collects on hearing it finds the next sentinel
		if f := tuned; f != nil {
			f(g)
		}
	})
}

// tune sets GOGC for the heap the last cycle measured and returns it;
// false once stopped.
func (t *tuner) tune() (int, bool) {
	live, roots := lastCycle()
	g := Percent(t.floor, live, roots, t.base)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return 0, false
	}
	debug.SetGCPercent(g)
	return g, true
}

// Percent is the least GOGC, and at least base, whose heap goal reaches
// floor after a cycle that found live bytes of heap live and roots bytes
// of goroutine stacks and globals to scan. The runtime's goal is
// live + (live + roots) × GOGC/100, and at least minGoal × GOGC/100.
func Percent(floor, live, roots uint64, base int) int {
	floor = min(floor, 1<<50) // no overflow below
	if floor <= live {
		return base
	}
	up := func(n, d uint64) uint64 { return (n + d - 1) / d }
	need := up(floor*100, minGoal)
	if d := live + roots; d > 0 {
		need = min(need, up((floor-live)*100, d))
	}
	return max(base, int(min(need, maxGOGC)))
}

// lastCycle is what the last cycle found: the live heap, and the stacks
// and globals it scanned.
func lastCycle() (live, roots uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	var v [3]uint64
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	return v[0], v[1] + v[2]
}

func readGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	v := s[0].Value.Uint64()
	if v > 1<<31 {
		return -1
	}
	return int(v)
}
