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
// series free their space only together with their neighbours.
type strArena struct {
	block []byte
	bytes uint64 // allocated so far (blocks and longer strings), for Memory
}

const (
	arenaBlock = 4096
	arenaMax   = 256 // longer strings get an allocation of their own
)

func (a *strArena) clone(s string) string {
	if len(s) == 0 || len(s) > arenaMax {
		a.bytes += uint64(len(s))
		return strings.Clone(s)
	}
	if cap(a.block)-len(a.block) < len(s) {
		a.block = make([]byte, 0, arenaBlock)
		a.bytes += arenaBlock
	}
	n := len(a.block)
	a.block = append(a.block, s...)
	return unsafe.String(&a.block[n], len(s))
}
