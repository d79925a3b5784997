package rollup

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// distributions the error bound is checked on: narrow, skewed, heavy-tailed,
// signed.
var distributions = []struct {
	name string
	gen  func(r *rand.Rand) float64
}{
	{"uniform", func(r *rand.Rand) float64 { return r.Float64() * 100 }},
	{"exponential", func(r *rand.Rand) float64 { return r.ExpFloat64() * 20 }},
	{"lognormal", func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64()*1.5 + 3) }},
	{"pareto", func(r *rand.Rand) float64 { return 1 / math.Pow(1-r.Float64(), 1/1.2) }},
	{"normal-signed", func(r *rand.Rand) float64 { return r.NormFloat64() * 50 }},
	{"cpu-like", func(r *rand.Rand) float64 { return math.Round(r.Float64()*1000) / 1000 }},
}

var quantiles = []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

// exact is the oracle: the value of rank ⌊q·(n−1)⌋ in sorted order.
func exact(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

// relErr is |got − want| / |want| (absolute when want is 0).
func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// guaranteed reports whether the bound holds for v: it is above the bins
// collapsing folded together.
func (s *Sketch) guaranteed(v float64) bool {
	switch {
	case v > 0 && s.pos.collapsed:
		return v > math.Exp(float64(s.pos.offset)*s.logGamma)
	case v < 0 && s.neg.collapsed:
		return -v > math.Exp(float64(s.neg.offset)*s.logGamma)
	}
	return true
}

// TestSketchErrorBound: on every distribution, every quantile is within α
// of the exact one, except those whose value lies in bins collapsing
// folded together (the smallest magnitudes: checked to stay out of p1 …
// p99.9).
func TestSketchErrorBound(t *testing.T) {
	for _, d := range distributions {
		t.Run(d.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			s := NewSketch()
			vals := make([]float64, 100_000)
			for i := range vals {
				vals[i] = d.gen(r)
				s.Add(vals[i])
			}
			slices.Sort(vals)
			if s.Count() != uint64(len(vals)) {
				t.Fatalf("count %d", s.Count())
			}
			if s.Bins() > s.MaxBins() {
				t.Fatalf("%d bins", s.Bins())
			}
			for _, q := range quantiles {
				got, want := s.Quantile(q), exact(vals, q)
				if !s.guaranteed(want) {
					// Folded: then the error is bounded in absolute
					// terms, by the folded bins' magnitude.
					lim := math.Exp(float64(max(s.pos.offset, s.neg.offset)+1)*s.logGamma) * 2
					if math.Abs(got-want) > lim || (q >= 0.01 && q < 1 && d.name != "normal-signed") {
						t.Errorf("q=%v (%v, got %v) fell into collapsed bins (limit %v)", q, want, got, lim)
					}
					continue
				}
				if e := relErr(got, want); e > s.Alpha()+1e-12 {
					t.Errorf("q=%v: got %v want %v: error %.4f%% > %.2f%%", q, got, want, e*100, s.Alpha()*100)
				}
			}
		})
	}
}

// TestSketchMergeIsUnion: the merge of sketches of parts is the sketch of
// the whole, bin for bin (byte for byte encoded), in any grouping.
func TestSketchMergeIsUnion(t *testing.T) {
	for _, d := range distributions {
		r := rand.New(rand.NewPCG(3, 4))
		whole := NewSketch()
		parts := make([]*Sketch, 7)
		for i := range parts {
			parts[i] = NewSketch()
		}
		for i := range 50_000 {
			v := d.gen(r)
			whole.Add(v)
			parts[i%7].Add(v)
		}
		merged := NewSketch()
		for _, p := range parts {
			if err := merged.Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		// ((p0+p1)+(p2+p3)) + … : another grouping.
		tree := parts[0].Clone()
		pair := parts[2].Clone()
		pair.Merge(parts[3])
		tree.Merge(parts[1])
		tree.Merge(pair)
		for _, p := range parts[4:] {
			tree.Merge(p)
		}
		a, _ := whole.MarshalBinary()
		for name, m := range map[string]*Sketch{"sequential": merged, "tree": tree} {
			b, _ := m.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %s merge differs from the sketch of the union", d.name, name)
			}
		}
	}
}

// TestSketchCollapse: a range wider than the bins collapses the lowest
// ones: the size stays bounded and the high quantiles keep the bound.
func TestSketchCollapse(t *testing.T) {
	s, err := NewSketchAccuracy(0.01, 64)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var vals []float64
	for range 20_000 {
		v := math.Exp(r.Float64()*20 - 10) // 9 decades
		vals = append(vals, v)
		s.Add(v)
	}
	slices.Sort(vals)
	if s.Bins() > 64 || !s.pos.collapsed {
		t.Fatalf("bins %d collapsed %v", s.Bins(), s.pos.collapsed)
	}
	// 64 bins at γ≈1.02 cover the top factor γ^63 ≈ 3.5: the values
	// above the top ~6 % of the log range keep the guarantee.
	for _, q := range []float64{0.95, 0.99, 1} {
		if e := relErr(s.Quantile(q), exact(vals, q)); e > 0.01+1e-12 {
			t.Errorf("q=%v after collapsing: error %.4f", q, e)
		}
	}
	if s.Count() != 20_000 {
		t.Errorf("count %d after collapsing", s.Count())
	}
	// Signed values collapse from the smallest magnitudes, both tails kept.
	n, _ := NewSketchAccuracy(0.01, 16)
	for i := range 1000 {
		n.Add(-float64(i + 1))
		n.Add(float64(i + 1))
	}
	if n.Bins() > 16 || n.Count() != 2000 {
		t.Fatalf("signed: bins %d count %d", n.Bins(), n.Count())
	}
	if got := n.Quantile(1); relErr(got, 1000) > 0.01 {
		t.Errorf("signed max %v", got)
	}
	if got := n.Quantile(0); relErr(got, -1000) > 0.01 {
		t.Errorf("signed min %v", got)
	}
}

func TestSketchEdgeCases(t *testing.T) {
	s := NewSketch()
	if !math.IsNaN(s.Quantile(0.5)) {
		t.Error("empty sketch quantile not NaN")
	}
	s.Add(math.NaN())
	s.Add(math.Inf(1))
	s.Add(0)
	s.Add(1e-12)
	if s.Count() != 2 || s.Quantile(0.5) != 0 {
		t.Errorf("zeros: count %d q50 %v", s.Count(), s.Quantile(0.5))
	}
	if !math.IsNaN(s.Quantile(1.5)) || !math.IsNaN(s.Quantile(-0.1)) {
		t.Error("q out of range not NaN")
	}
	o, _ := NewSketchAccuracy(0.02, 512)
	if err := s.Merge(o); !errors.Is(err, ErrIncompatible) {
		t.Errorf("merging α 0.02 into 0.01: %v", err)
	}
	if _, err := NewSketchAccuracy(1, 10); err == nil {
		t.Error("α = 1 accepted")
	}
}

func TestSketchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, d := range distributions {
		s := NewSketch()
		for range 10_000 {
			s.Add(d.gen(r))
		}
		b, _ := s.MarshalBinary()
		var got Sketch
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("%s: re-encoding differs", d.name)
		}
		for _, q := range quantiles {
			if got.Quantile(q) != s.Quantile(q) {
				t.Fatalf("%s q=%v: %v vs %v", d.name, q, got.Quantile(q), s.Quantile(q))
			}
		}
		if len(b) > 2048 {
			t.Errorf("%s: %d bytes encoded, want ≤ 2 KB", d.name, len(b))
		}
		// Every truncation is an error, never a panic or a wrong sketch.
		for i := range len(b) {
			if err := new(Sketch).UnmarshalBinary(b[:i]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: truncated at %d: %v", d.name, i, err)
			}
		}
	}
}

// FuzzSketchDecode: arbitrary bytes decode to an error or to a sketch that
// re-encodes to the same bytes and answers quantiles without panicking.
func FuzzSketchDecode(f *testing.F) {
	s := NewSketch()
	for _, v := range []float64{-3, 0, 1, 2, 1000} {
		s.Add(v)
	}
	b, _ := s.MarshalBinary()
	f.Add(b)
	e, _ := NewSketch().MarshalBinary()
	f.Add(e)
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Sketch
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		out, _ := s.MarshalBinary()
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, out)
		}
		for _, q := range quantiles {
			s.Quantile(q)
		}
		c := s.Clone()
		if err := c.Merge(&s); err != nil {
			t.Fatal(err)
		}
	})
}
