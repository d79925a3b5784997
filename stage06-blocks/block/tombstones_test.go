package block

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// wellFormed checks the Intervals invariant: sorted, disjoint, not adjacent.
func wellFormed(t *testing.T, s Intervals) {
	t.Helper()
	for i, iv := range s {
		if iv.Mint > iv.Maxt {
			t.Fatalf("interval %d inverted: %v", i, s)
		}
		if i > 0 && s[i-1].Maxt >= iv.Mint-1 {
			t.Fatalf("intervals %d and %d overlap or touch: %v", i-1, i, s)
		}
	}
}

func TestIntervalsAddEdgeCases(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	cases := []struct {
		name string
		in   Intervals
		add  Interval
		want Intervals
	}{
		{"empty", nil, Interval{5, 9}, Intervals{{5, 9}}},
		{"single-point", nil, Interval{5, 5}, Intervals{{5, 5}}},
		{"before", Intervals{{10, 20}}, Interval{1, 5}, Intervals{{1, 5}, {10, 20}}},
		{"after", Intervals{{10, 20}}, Interval{30, 40}, Intervals{{10, 20}, {30, 40}}},
		{"adjacent-left", Intervals{{10, 20}}, Interval{1, 9}, Intervals{{1, 20}}},
		{"adjacent-right", Intervals{{10, 20}}, Interval{21, 30}, Intervals{{10, 30}}},
		{"gap-of-one", Intervals{{10, 20}}, Interval{22, 30}, Intervals{{10, 20}, {22, 30}}},
		{"inside", Intervals{{10, 20}}, Interval{12, 15}, Intervals{{10, 20}}},
		{"covers", Intervals{{10, 20}}, Interval{0, 100}, Intervals{{0, 100}}},
		{"same", Intervals{{10, 20}}, Interval{10, 20}, Intervals{{10, 20}}},
		{"bridges-three", Intervals{{1, 2}, {5, 6}, {9, 10}, {20, 30}}, Interval{3, 8}, Intervals{{1, 10}, {20, 30}}},
		{"overlap-left-edge", Intervals{{10, 20}, {30, 40}}, Interval{20, 25}, Intervals{{10, 25}, {30, 40}}},
		{"max-end", Intervals{{10, maxI}}, Interval{maxI, maxI}, Intervals{{10, maxI}}},
		{"max-end-adjacent", Intervals{{maxI, maxI}}, Interval{0, maxI - 1}, Intervals{{0, maxI}}},
		{"min-start", Intervals{{minI, -1}}, Interval{0, 0}, Intervals{{minI, 0}}},
		{"everything", Intervals{{-5, 5}}, Interval{minI, maxI}, Intervals{{minI, maxI}}},
		{"negative", Intervals{{-100, -50}}, Interval{-49, -10}, Intervals{{-100, -10}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orig := slices.Clone(c.in)
			got := c.in.Add(c.add)
			if !slices.Equal(got, c.want) {
				t.Fatalf("%v.Add(%v) = %v, want %v", c.in, c.add, got, c.want)
			}
			if !slices.Equal(c.in, orig) {
				t.Fatalf("Add modified its receiver: %v, was %v", c.in, orig)
			}
			wellFormed(t, got)
		})
	}
}

// TestIntervalsOracle adds random intervals over a small domain and checks
// Contains, Covers and Overlaps against a set of deleted points.
func TestIntervalsOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const domain = 200
	for round := range 200 {
		var s Intervals
		deleted := make([]bool, domain)
		for range 1 + rng.IntN(12) {
			a := rng.Int64N(domain)
			b := min(a+rng.Int64N(15), domain-1)
			s = s.Add(Interval{a, b})
			for x := a; x <= b; x++ {
				deleted[x] = true
			}
		}
		wellFormed(t, s)
		for x := range int64(domain) {
			if s.Contains(x) != deleted[x] {
				t.Fatalf("round %d %v: Contains(%d) = %v", round, s, x, !deleted[x])
			}
		}
		for range 50 {
			a := rng.Int64N(domain)
			b := min(a+rng.Int64N(30), domain-1)
			all, any := true, false
			for x := a; x <= b; x++ {
				all = all && deleted[x]
				any = any || deleted[x]
			}
			if s.Covers(a, b) != all || s.Overlaps(a, b) != any {
				t.Fatalf("round %d %v: [%d,%d] Covers %v (want %v) Overlaps %v (want %v)", round, s, a, b, s.Covers(a, b), all, s.Overlaps(a, b), any)
			}
		}
	}
}

func TestTombstonesRoundTrip(t *testing.T) {
	for name, ts := range map[string]Tombstones{
		"empty":    {},
		"nil":      nil,
		"one":      {0: {{1, 2}}},
		"many":     {3: {{-10, 5}, {100, 200}}, 4: {{math.MinInt64, math.MaxInt64}}, 1 << 31: {{7, 7}}},
		"empty-id": {5: nil, 6: {{1, 1}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeTombstones(EncodeTombstones(ts))
			if err != nil {
				t.Fatal(err)
			}
			want := Tombstones{}
			for id, s := range ts {
				if len(s) > 0 {
					want[id] = s
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for id, s := range want {
				if !slices.Equal(got[id], s) {
					t.Fatalf("series %d: got %v, want %v", id, got[id], s)
				}
			}
			if got.Count() != want.Count() {
				t.Fatalf("Count %d, want %d", got.Count(), want.Count())
			}
		})
	}
}

func TestDecodeTombstonesRejects(t *testing.T) {
	good := EncodeTombstones(Tombstones{1: {{1, 2}}, 9: {{5, 6}}})
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 1; return b }
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good[:11],
		"magic":     flip(0),
		"version":   flip(4),
		"body":      flip(9),
		"crc":       flip(len(good) - 1),
		"truncated": good[:len(good)-1],
	} {
		if _, err := DecodeTombstones(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodeTombstones: any file decodes or fails with ErrCorrupt, never
// panics; what decodes is well formed and survives a re-encode.
func FuzzDecodeTombstones(f *testing.F) {
	f.Add(EncodeTombstones(Tombstones{1: {{1, 2}}, 9: {{5, 6}, {10, 20}}}))
	f.Add(EncodeTombstones(nil))
	f.Add(EncodeTombstones(Tombstones{0: {{math.MinInt64, math.MaxInt64}}}))
	f.Add([]byte("TST6\x01\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := DecodeTombstones(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for _, s := range ts {
			wellFormed(t, s)
		}
		again, err := DecodeTombstones(EncodeTombstones(ts))
		if err != nil || len(again) != len(ts) {
			t.Fatalf("re-encode: %v, %d series (want %d)", err, len(again), len(ts))
		}
		for id, s := range ts {
			if !slices.Equal(again[id], s) {
				t.Fatalf("series %d: %v after re-encode, want %v", id, again[id], s)
			}
		}
	})
}
