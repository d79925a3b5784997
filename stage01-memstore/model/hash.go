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
	// One call over the whole stream, assembled in a stack buffer, costs a
	// fraction of a Digest fed four small writes per label (~150 ns for a
	// 5-label set): series creation hashes every new label set. A set too
	// long for the buffer streams the rest into a Digest; the hash is the
	// same either way.
	var buf [256]byte
	b := buf[:0]
	for i, x := range l.ls {
		if len(b)+len(x.Name)+len(x.Value)+2 > len(buf) {
			d := xxhash.New()
			_, _ = d.Write(b)
			s := [1]byte{sep}
			for _, x := range l.ls[i:] {
				_, _ = d.WriteString(x.Name)
				_, _ = d.Write(s[:])
				_, _ = d.WriteString(x.Value)
				_, _ = d.Write(s[:])
			}
			return d.Sum64()
		}
		b = append(b, x.Name...)
		b = append(b, sep)
		b = append(b, x.Value...)
		b = append(b, sep)
	}
	return xxhash.Sum64(b)
}
