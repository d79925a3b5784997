package storage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestRefCache checks the cache against a map of the keys themselves: every
// key gets back its own ref, never another key's, including keys that
// differ in one byte, and 0 removes.
func TestRefCache(t *testing.T) {
	c := NewRefCache(1 << 20)
	want := map[string]uint64{}
	for i := range 20_000 {
		k := fmt.Sprintf("\x0a\x08__name__\x12\x03up{instance=%d}", i)
		want[k] = uint64(i + 1)
		c.Set([]byte(k), uint64(i+1))
	}
	// Keys one byte apart from the stored ones are not found.
	for k := range want {
		b := []byte(k)
		b[len(b)-2] ^= 0x40
		if _, stored := want[string(b)]; !stored && c.Get(b) != 0 {
			t.Fatalf("key %q: got ref %d for a key never set", b, c.Get(b))
		}
	}
	for k, ref := range want {
		if got := c.Get([]byte(k)); got != ref {
			t.Fatalf("key %q: ref %d, want %d", k, got, ref)
		}
	}
	if c.Len() != len(want) {
		t.Fatalf("Len %d, want %d", c.Len(), len(want))
	}
	c.Set([]byte("\x0a\x08__name__\x12\x03up{instance=7}"), 0)
	if got := c.Get([]byte("\x0a\x08__name__\x12\x03up{instance=7}")); got != 0 {
		t.Fatalf("removed key: ref %d", got)
	}
	if c.Len() != len(want)-1 {
		t.Fatalf("Len after remove %d, want %d", c.Len(), len(want)-1)
	}
}

// TestRefTableOracle runs random sets, removals and lookups on a refTable
// and on a map side by side. The digests' first halves share their low
// bits in small groups, so probe chains are long and wrap around the end
// of the table, as removal's back-shifting must handle; some refs are
// past 2^32.
func TestRefTableOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tab refTable
	want := map[refDigest]uint64{}
	digest := func() refDigest {
		k := rng.Uint64N(3000)
		// Low bits from a few values: many keys share a home slot.
		return refDigest{a: k<<20 | k%7 | (1<<16-1)*(k%3), b: uint32(k * 2654435761)}
	}
	for i := range 200_000 {
		d := digest()
		switch op := rng.IntN(10); {
		case op < 5:
			ref := rng.Uint64N(1<<20) + 1
			if rng.IntN(50) == 0 {
				ref += math.MaxUint32
			}
			tab.set(d, ref)
			want[d] = ref
		case op < 8:
			tab.del(d)
			delete(want, d)
		default:
			if got := tab.get(d); got != want[d] {
				t.Fatalf("op %d: get %v = %d, want %d", i, d, got, want[d])
			}
		}
		if tab.len() != len(want) {
			t.Fatalf("op %d: len %d, want %d", i, tab.len(), len(want))
		}
	}
	for d, ref := range want {
		if got := tab.get(d); got != ref {
			t.Fatalf("end: get %v = %d, want %d", d, got, ref)
		}
	}
}

// TestRefCacheBound: a shard past its share of max is cleared, so the
// cache never holds much more than max entries.
func TestRefCacheBound(t *testing.T) {
	const max = 6400 // 100 a shard
	c := NewRefCache(max)
	for i := range 100_000 {
		c.Set(fmt.Appendf(nil, "series-%d", i), uint64(i+1))
	}
	if n := c.Len(); n > max+refShards || n == 0 {
		t.Fatalf("Len %d after 100,000 keys, want 1..%d", n, max+refShards)
	}
}

// TestRefCacheUpdateInFullShard: in a shard at its bound, a new key
// clears the shard, but a key already there takes its new ref in place:
// a series whose ref changed (after ErrUnknownRef) must not cost every
// other series of its shard an index lookup.
func TestRefCacheUpdateInFullShard(t *testing.T) {
	const max = 6400 // 101 a shard
	c := NewRefCache(max)
	var keys [][]byte
	for i := 0; len(keys) < c.max; i++ {
		k := fmt.Appendf(nil, "series-%d", i)
		if _, s := c.digest(k); s == &c.shards[0] {
			keys = append(keys, k)
		}
	}
	for i, k := range keys {
		c.Set(k, uint64(i+1))
	}
	if n := c.Len(); n != c.max {
		t.Fatalf("Len %d, want the shard full at %d", n, c.max)
	}
	c.Set(keys[7], 1_000_000) // an update of a key it holds
	for i, k := range keys {
		want := uint64(i + 1)
		if i == 7 {
			want = 1_000_000
		}
		if got := c.Get(k); got != want {
			t.Fatalf("after an update in a full shard, key %d: ref %d, want %d", i, got, want)
		}
	}
	var fresh []byte
	for i := 0; fresh == nil; i++ {
		k := fmt.Appendf(nil, "new-%d", i)
		if _, s := c.digest(k); s == &c.shards[0] {
			fresh = k
		}
	}
	c.Set(fresh, 5) // a new key: the shard is cleared for it
	if n, got := c.Len(), c.Get(fresh); n != 1 || got != 5 {
		t.Fatalf("a new key in a full shard: Len %d, ref %d; want 1, 5", n, got)
	}
}

// BenchmarkRefCacheMemory: the heap a cache of 1M remote-write keys (the
// label bytes of node_exporter-like series, about 110 bytes each) holds,
// per entry; the keys themselves are not counted.
func BenchmarkRefCacheMemory(b *testing.B) {
	const n = 1_000_000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "\n\x08__name__\x12\x16node_cpu_seconds_%04d\n\x03cpu\x12\x01%d\n\x08instance\x12\x0ehost-%04d:9100\n\x03job\x12\x04node\n\ndatacenter\x12\x04dc-%d", i%10, i/10%10, i/100, i/100%4)
	}
	var per float64
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c := NewRefCache(4 << 20)
		for i, k := range keys {
			c.Set(k, uint64(i+1))
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		per = float64(m1.HeapAlloc-m0.HeapAlloc) / n
		runtime.KeepAlive(c)
	}
	b.ReportMetric(per, "B/series")
}
