package index

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// TestStrArena: copies equal their originals, do not share the caller's
// memory (changing the source buffer leaves them alone), never overlap each
// other across block boundaries, and long strings are copied too.
func TestStrArena(t *testing.T) {
	var a strArena
	src := []byte(strings.Repeat("x", 300))
	var got, want []string
	for i := range 2000 {
		n := i % 61
		if i%500 == 0 {
			n = 300 // longer than arenaMax
		}
		for j := range n {
			src[j] = byte('a' + (i+j)%26)
		}
		w := string(src[:n])
		// A string over the caller's buffer, as one parsed from a request
		// without copying would be.
		var alias string
		if n > 0 {
			alias = unsafe.String(&src[0], n)
		}
		c, _ := a.clone(alias)
		got = append(got, c)
		want = append(want, w)
		for j := range n {
			src[j] = '#' // the caller reuses its buffer
		}
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestStrArenaRelease: bytes counts the blocks that hold a string not yet
// released, the current block, and long strings until released.
func TestStrArenaRelease(t *testing.T) {
	var a strArena
	type held struct {
		s   string
		ref strRef
	}
	var hs []held
	for i := range 3 * arenaBlock / 64 { // 64-byte strings: three full blocks
		s, ref := a.clone(strings.Repeat(string(rune('a'+i%26)), 64))
		hs = append(hs, held{s, ref})
	}
	long, lref := a.clone(strings.Repeat("L", 1000))
	if got, want := a.bytes(), uint64(3*arenaBlock+1000); got != want {
		t.Fatalf("three blocks and a long string: %d bytes, want %d", got, want)
	}
	per := arenaBlock / 64
	for _, h := range hs[:per-1] { // all of block 1 but one string
		a.release(h.s, h.ref)
	}
	if got, want := a.bytes(), uint64(3*arenaBlock+1000); got != want {
		t.Fatalf("block 1 with one string left: %d bytes, want %d", got, want)
	}
	a.release(hs[per-1].s, hs[per-1].ref)
	a.release(long, lref)
	if got, want := a.bytes(), uint64(2*arenaBlock); got != want {
		t.Fatalf("block 1 and the long string released: %d bytes, want %d", got, want)
	}
	for _, h := range hs[per:] { // blocks 2 and 3 (the current one)
		a.release(h.s, h.ref)
	}
	if got, want := a.bytes(), uint64(arenaBlock); got != want {
		t.Fatalf("everything released: %d bytes, want the current block's %d", got, want)
	}
	// The current block is full: a new one replaces it, which held
	// nothing the index still has.
	s, ref := a.clone(strings.Repeat("x", arenaMax))
	if got, want := a.bytes(), uint64(arenaBlock); got != want || ref == hs[len(hs)-1].ref {
		t.Fatalf("a string in a new block: %d bytes (block %d), want %d in a new block", got, ref, want)
	}
	a.release(s, ref)
	a.release("from a file", notCloned)
	if got, want := a.bytes(), uint64(arenaBlock); got != want {
		t.Fatalf("released again: %d bytes, want %d", got, want)
	}
}

// TestStrArenaOracle: random clones and releases; bytes is always the
// oracle's count: the distinct blocks of the strings held, the current
// block, and the long strings held.
func TestStrArenaOracle(t *testing.T) {
	var a strArena
	type held struct {
		s   string
		ref strRef
	}
	var hs []held
	r := rand.New(rand.NewPCG(3, 3))
	for step := range 20000 {
		if len(hs) > 0 && r.IntN(2) == 0 {
			i := r.IntN(len(hs))
			a.release(hs[i].s, hs[i].ref)
			hs[i] = hs[len(hs)-1]
			hs = hs[:len(hs)-1]
		} else {
			n := r.IntN(120)
			if r.IntN(50) == 0 {
				n = arenaMax + 1 + r.IntN(100)
			}
			s, ref := a.clone(strings.Repeat("v", n))
			hs = append(hs, held{s, ref})
		}
		blocks := map[strRef]bool{}
		if a.cur != notCloned {
			blocks[a.cur] = true
		}
		var own uint64
		for _, h := range hs {
			if h.ref == ownAlloc {
				own += uint64(len(h.s))
			} else {
				blocks[h.ref] = true
			}
		}
		if want := uint64(len(blocks))*arenaBlock + own; a.bytes() != want {
			t.Fatalf("step %d: %d bytes, want %d (%d blocks, %d own)", step, a.bytes(), want, len(blocks), own)
		}
	}
}
