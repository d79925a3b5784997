package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		floor, live, roots uint64
		base, want         int
	}{
		{256 << 20, 64 << 20, 0, 100, 300},       // 64 MiB × 4 = 256 MiB
		{256 << 20, 64 << 20, 1 << 20, 100, 296}, // 64 + 65 × 2.96 ≥ 256 (2.95 is not)
		{256 << 20, 200 << 20, 0, 100, 100},      // GOGC's own goal (400 MiB) is above the floor
		{256 << 20, 64 << 20, 0, 500, 500},       // never below the GOGC in effect
		{256 << 20, 0, 0, 100, 6400},             // nothing live: the goal is 4 MiB × GOGC/100
		{256 << 20, 1 << 20, 1 << 20, 100, 6400}, // 4 MiB × 64 is reached first
		{100 << 20, 30 << 20, 0, 100, 234},       // rounded up: 30 MiB × 3.34 ≥ 100 MiB
		{1 << 62, 4 << 20, 0, 100, maxGOGC},      // bounded
		{1 << 20, 64 << 20, 0, 75, 75},           // a floor under the live heap
	} {
		if got := Percent(c.floor, c.live, c.roots, c.base); got != c.want {
			t.Errorf("Percent(%d MiB, %d MiB, %d MiB, %d) = %d, want %d", c.floor>>20, c.live>>20, c.roots>>20, c.base, got, c.want)
		}
	}
}

func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// gcTuned collects and waits until the tuner has set GOGC after it (the
// finalizer runs on its own goroutine after the cycle).
func gcTuned(t *testing.T, ch chan int) int {
	t.Helper()
	runtime.GC()
	select {
	case g := <-ch:
		return g
	case <-time.After(time.Minute):
		t.Fatal("no GOGC set within a minute of a collection")
		return 0
	}
}

// TestStart: with a small live heap the goal after a collection is the
// floor; with a live heap above half the floor GOGC is its own again; stop
// restores it and no cycle after sets it.
func TestStart(t *testing.T) {
	ch := make(chan int, 16)
	tuned = func(g int) { ch <- g }
	defer func() { tuned = nil }()
	base := readGOGC()
	const floor = 256 << 20
	stop := Start(floor)
	defer stop()

	gcTuned(t, ch)
	if goal, live := read("/gc/heap/goal:bytes"), read("/gc/heap/live:bytes"); goal < floor || goal > floor+floor/50 {
		t.Fatalf("goal %d MiB with %d MiB live, want the floor, %d MiB", goal>>20, live>>20, floor>>20)
	}

	keep := make([][]byte, 0, 200)
	for range 200 { // 200 MiB live, with pointers so it is not one noscan span
		keep = append(keep, make([]byte, 1<<20))
	}
	if g := gcTuned(t, ch); g != base {
		t.Fatalf("GOGC %d with %d MiB live and a floor of %d MiB, want the base %d", g, read("/gc/heap/live:bytes")>>20, floor>>20, base)
	}
	runtime.KeepAlive(keep)
	keep = nil

	stop()
	if g := readGOGC(); g != base {
		t.Fatalf("GOGC %d after stop, want %d", g, base)
	}
	runtime.GC()
	runtime.GC() // the last sentinel's finalizer has run by the second
	if g := readGOGC(); g != base {
		t.Fatalf("GOGC %d after stop and two collections, want %d", g, base)
	}
	select {
	case g := <-ch:
		t.Fatalf("a collection after stop set GOGC %d", g)
	default:
	}
}
