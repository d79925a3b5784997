package index

import (
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
		got = append(got, a.clone(alias))
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
