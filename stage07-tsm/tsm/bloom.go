package tsm

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Bloom is a bloom filter of the keys of one TSM file: a bit array of m bits
// and k bit positions per key. Add sets a key's k bits; mayContain is false
// only if one of them is clear, so "false" is certain (the key is not in the
// file) and "true" is wrong with probability about (1 - e^(-kn/m))^k.
//
// Why a TSM file needs one: unlike time-partitioned blocks, every TSM file
// may hold any key, so a query for one key would otherwise binary-search the
// index of every file. A bloom filter answers "not here" from a few bits in
// memory, without touching the index pages of the mmapped file.
//
// The k positions come from one 64-bit xxhash by double hashing
// (Kirsch & Mitzenmacher): g_i = h1 + i·h2 mod m, with h1 and h2 the two
// halves of the hash. They behave like k independent hashes for a bloom
// filter's purposes, at the cost of one hash computation.
type Bloom struct {
	bits []uint64
	k    uint8
}

// bloomBitsPerKey is the filter size: 10 bits per key with k = 7 gives a
// false-positive rate of about 0.8 %.
const bloomBitsPerKey = 10

// newBloom sizes a filter for n keys at bloomBitsPerKey bits per key.
func newBloom(n int) *Bloom {
	m := max(64, n*bloomBitsPerKey)
	words := (m + 63) / 64
	// k = (m/n)·ln 2 minimises the false-positive rate.
	k := max(1, int(math.Round(float64(words*64)/float64(max(n, 1))*math.Ln2)))
	return &Bloom{bits: make([]uint64, words), k: uint8(min(k, 30))}
}

func split(h uint64) (h1, h2 uint64) {
	return h & 0xffffffff, h>>32 | 1 // h2 odd: it then steps through all positions
}

// Add adds key.
func (b *Bloom) Add(key []byte) { b.addHash(xxhash.Sum64(key)) }

func (b *Bloom) addHash(h uint64) {
	m := uint64(len(b.bits) * 64)
	h1, h2 := split(h)
	for i := uint64(0); i < uint64(b.k); i++ {
		p := (h1 + i*h2) % m
		b.bits[p/64] |= 1 << (p % 64)
	}
}

// mayContain reports whether key may have been added. False is definite.
func (b *Bloom) mayContain(key []byte) bool {
	m := uint64(len(b.bits) * 64)
	h1, h2 := split(xxhash.Sum64(key))
	for i := uint64(0); i < uint64(b.k); i++ {
		p := (h1 + i*h2) % m
		if b.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// FillRatio is the share of bits set (for inspect: about 1/2 when the filter
// is sized well).
func (b *Bloom) FillRatio() float64 {
	n := 0
	for _, w := range b.bits {
		n += bits.OnesCount64(w)
	}
	return float64(n) / float64(len(b.bits)*64)
}

// K is the number of bit positions per key; Bits the size of the array.
func (b *Bloom) K() int    { return int(b.k) }
func (b *Bloom) Bits() int { return len(b.bits) * 64 }

// Encoded form: u8 k | u32 LE number of 64-bit words | the words, LE.
func (b *Bloom) appendTo(dst []byte) []byte {
	dst = append(dst, b.k)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.bits)))
	for _, w := range b.bits {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	return dst
}

// decodeBloom reads a filter; the words are copied out of the mmapped file
// once, since every lookup reads them.
func decodeBloom(p []byte) (*Bloom, error) {
	if len(p) < 5 {
		return nil, fmt.Errorf("%w: bloom filter of %d bytes", ErrCorrupt, len(p))
	}
	k := p[0]
	words := binary.LittleEndian.Uint32(p[1:])
	if k == 0 || k > 30 || words == 0 || uint64(len(p)-5) != uint64(words)*8 {
		return nil, fmt.Errorf("%w: bloom filter header (k=%d, %d words, %d bytes)", ErrCorrupt, k, words, len(p))
	}
	b := &Bloom{bits: make([]uint64, words), k: k}
	for i := range b.bits {
		b.bits[i] = binary.LittleEndian.Uint64(p[5+8*i:])
	}
	return b, nil
}
