package model

import "github.com/cespare/xxhash/v2"

// sep separates names and values inside the hashed byte stream. 0xff never
// occurs in valid UTF-8, so ("ab","c") and ("a","bc") cannot hash alike by
// concatenation.
const sep = '\xff'

// Hash is the 64-bit series hash: xxHash64 of name, 0xff, value, 0xff for each
// label in name order. Because the labels are sorted, the hash is the same for
// any order the tags were given in. It is a lookup key, not an identity: two
// different label sets may collide, so every map keyed by Hash must compare the
// labels too (memstore keeps a short collision list per hash).
func (l Labels) Hash() uint64 {
	var d xxhash.Digest
	d.Reset()
	var s [1]byte
	s[0] = sep
	for _, x := range l.ls {
		d.WriteString(x.Name)
		d.Write(s[:])
		d.WriteString(x.Value)
		d.Write(s[:])
	}
	return d.Sum64()
}
