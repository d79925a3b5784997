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
// the floor or more: the memory it costs is at most the floor.
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

// minLive is the runtime's smallest heap goal at GOGC=100: under it the
// goal is minLive × GOGC/100, whatever is live.
const minLive = 4 << 20

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
// collection that finds it unreachable, once per cycle since each run
// allocates the next. Large enough not to share a tiny-allocator block
// whose other objects could keep it alive.
type sentinel struct{ _ [64]byte }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		g, ok := t.tune()
		if !ok {
			return // stopped: no next sentinel
		}
		if f := tuned; f != nil {
			f(g)
		}
		t.arm()
	})
}

// tune sets GOGC for the live heap the last cycle measured and returns
// it; false once stopped.
func (t *tuner) tune() (int, bool) {
	g := Percent(t.floor, liveHeap(), t.base)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return 0, false
	}
	debug.SetGCPercent(g)
	return g, true
}

// Percent is the GOGC that makes a live heap of live bytes grow to floor
// before the next collection, and at least base.
func Percent(floor, live uint64, base int) int {
	// The goal is live × (1 + GOGC/100), and at least minLive × GOGC/100.
	over, per := floor-min(floor, live), live
	if live < minLive {
		over, per = floor, minLive
	}
	need := (over*100 + per - 1) / per // rounded up
	return max(base, int(min(need, maxGOGC)))
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
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
