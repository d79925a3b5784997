package influx

import (
	"fmt"
	"testing"
)

// TestKeySet: a key added is known, by its bytes (not a prefix, not
// another key), and the set stays within its bound.
func TestKeySet(t *testing.T) {
	s := NewKeySet(keyShards * 4) // four keys a shard
	a := []byte("cpu,host=a,dc=x")
	if s.Has(a) {
		t.Fatal("an empty set has a key")
	}
	s.Add(a)
	if !s.Has(a) || !s.Has([]byte(string(a))) {
		t.Fatal("a key added is not known")
	}
	for _, k := range []string{"cpu,host=a,dc=", "cpu,host=a,dc=y", "cpu,host=a,dc=xx", ""} {
		if s.Has([]byte(k)) {
			t.Fatalf("%q known after adding only %q", k, a)
		}
	}
	for i := range 10_000 {
		s.Add(fmt.Appendf(nil, "m,k=%d", i))
	}
	if n := s.Len(); n > keyShards*5 || n < keyShards {
		t.Fatalf("%d keys held, want about %d at most", n, keyShards*5)
	}
	if !s.Has([]byte("m,k=9999")) {
		t.Fatal("the last key added is not known")
	}
}
