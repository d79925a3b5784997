package index

import (
	"strings"
	"unsafe"
)

// strArena copies strings into shared blocks: the index keeps a copy of
// every new label name and value (the caller's may point into a request
// buffer it will reuse), and the first scrape of many series brings one
// new value each (instance, pod). One allocation per 4 KiB of them, not
// one per value, is what series creation and the garbage collector notice.
//
// A block is never written again where a string was handed out, so the
// strings are as immutable as any Go string. The price: a block stays in
// memory while one of its strings is referenced, so the values of deleted
// series free their space only together with their neighbours. The arena
// counts the strings the index holds in each block (release), so bytes is
// what the index keeps alive: under series churn, blocks whose every
// string is gone leave the count as they leave the heap.
type strArena struct {
	block   []byte
	cur     strRef            // the current block's number, from 1 (0: none yet)
	curLive uint32            // strings of the current block the index holds
	live    map[strRef]uint32 // the same for earlier blocks that hold some
	// blocks is the number of blocks the index references: those with
	// live strings, and the current one. own is the bytes of the live
	// strings that have an allocation of their own.
	blocks, own uint64
}

// strRef says where clone put a string, for release: a block's number, or
// one of the two below.
type strRef = uint32

const (
	notCloned strRef = 0          // not the arena's (a string read from a file)
	ownAlloc  strRef = ^strRef(0) // an allocation of its own (empty or long)
)

const (
	arenaBlock = 4096
	arenaMax   = 256 // longer strings get an allocation of their own
)

func (a *strArena) clone(s string) (string, strRef) {
	if len(s) == 0 || len(s) > arenaMax {
		a.own += uint64(len(s))
		return strings.Clone(s), ownAlloc
	}
	if cap(a.block)-len(a.block) < len(s) {
		switch {
		case a.curLive > 0:
			if a.live == nil {
				a.live = map[strRef]uint32{}
			}
			a.live[a.cur] = a.curLive
		case a.cur != notCloned:
			a.blocks-- // the block left behind holds nothing of the index's
		}
		a.block = make([]byte, 0, arenaBlock)
		a.cur++
		a.curLive = 0
		a.blocks++
	}
	a.curLive++
	n := len(a.block)
	a.block = append(a.block, s...)
	return unsafe.String(&a.block[n], len(s)), a.cur
}

// release says the index no longer holds s, which clone returned with ref.
func (a *strArena) release(s string, ref strRef) {
	switch ref {
	case notCloned:
		return
	case ownAlloc:
		a.own -= uint64(len(s))
		return
	}
	if ref == a.cur {
		a.curLive-- // the block itself stays the arena's
		return
	}
	if a.live[ref]--; a.live[ref] == 0 {
		delete(a.live, ref)
		a.blocks--
	}
}

// bytes is the heap of the strings the index holds: the blocks it
// references and the strings with an allocation of their own.
func (a *strArena) bytes() uint64 { return a.blocks*arenaBlock + a.own }
