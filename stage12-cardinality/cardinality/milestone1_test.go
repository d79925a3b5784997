package cardinality

import (
	"fmt"
	"testing"
)

// checkpoints are the sizes milestone 1 checks: 10^2 … 10^7, with 2× and
// 5× steps between the powers of ten, so the sparse form, the switch to
// dense (3,072 entries) and the range where LogLog-Beta's correction
// matters most (a few m) are all covered.
func checkpoints(maxN int) []int {
	var out []int
	for p := 100; p <= maxN; p *= 10 {
		for _, k := range []int{1, 2, 5} {
			if k*p <= maxN {
				out = append(out, k*p)
			}
		}
	}
	return out
}

// TestMilestone1_HyperLogLogCounts: the estimate is within 3σ (σ =
// 1.04/√m) of the exact number of distinct hashes at every size from 10^2
// to 10^7, in both forms; after merging four sketches that each saw part
// of the stream (with an overlap all four saw); and after an encode/decode
// round trip. The exact count is known by construction (n distinct inputs
// to xxHash) and, up to 10^5, checked with a map.
func TestMilestone1_HyperLogLogCounts(t *testing.T) {
	maxN := 10_000_000
	if testing.Short() || raceEnabled {
		maxN = 1_000_000
	}
	const bound = 3 * StdError
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			whole := New()
			parts := [4]*HLL{New(), New(), New(), New()}
			exact := map[uint64]struct{}{}
			added := 0
			for _, n := range checkpoints(maxN) {
				for ; added < n; added++ {
					x := hashOf(seed, uint64(added))
					whole.Add(x)
					parts[added%4].Add(x)
					if added < 1000 { // the overlap: every part sees the first 1,000
						for _, p := range parts {
							p.Add(x)
						}
					}
					if n <= 100_000 {
						exact[x] = struct{}{}
					}
				}
				if n <= 100_000 && len(exact) != n {
					t.Fatalf("oracle: %d distinct hashes among %d inputs", len(exact), n)
				}
				est := whole.Count()
				wantSparse := n <= sparseMax
				if whole.Sparse() != wantSparse {
					t.Errorf("n=%d: sparse=%v, want %v", n, whole.Sparse(), wantSparse)
				}
				if e := relErr(est, n); e > bound {
					t.Errorf("n=%d: estimate %d, error %.4f > 3σ %.4f", n, est, e, bound)
				}

				merged := New()
				for _, p := range parts {
					merged.Merge(p)
				}
				if e := relErr(merged.Count(), n); e > bound {
					t.Errorf("n=%d: merged estimate %d, error %.4f", n, merged.Count(), e)
				}
				if !merged.Sparse() && !whole.Sparse() && string(merged.dense) != string(whole.dense) {
					t.Errorf("n=%d: merged registers differ from the one sketch's", n)
				}

				b, err := whole.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				back, err := Decode(b)
				if err != nil {
					t.Fatalf("n=%d: decode: %v", n, err)
				}
				// The same estimate, unless the encoding coarsened a
				// sparse list past its size budget: then still within 3σ.
				if back.coarse == 0 && back.Count() != est {
					t.Errorf("n=%d: decoded estimate %d, want %d", n, back.Count(), est)
				}
				if e := relErr(back.Count(), n); e > bound {
					t.Errorf("n=%d: decoded estimate %d, error %.4f", n, back.Count(), e)
				}
			}
		})
	}
}
