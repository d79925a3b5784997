package delta

import (
	"math"
	"slices"
	"testing"
)

func TestMantissa(t *testing.T) {
	cases := []struct {
		v  float64
		e  int
		m  int64
		ok bool
	}{
		{0.75, 2, 75, true},
		{0.82, 2, 82, true},
		{0.82, 3, 820, true}, // any larger exponent works too
		{0.82, 1, 0, false},
		{0.1, 1, 1, true},
		{-12.5, 1, -125, true},
		{58, 0, 58, true},
		{0, 0, 0, true},
		{1 << 53, 0, 1 << 53, true},
		{1<<53 + 2, 0, 0, false}, // beyond 2^53 not every integer is a float64
		{1e300, 0, 0, false},
		{0.30000000000000004, 17, 0, false}, // needs 17 digits: mantissa > 2^53
		{math.Copysign(0, -1), 0, 0, false}, // float64(0) is +0
		{math.NaN(), 0, 0, false},
		{math.Inf(1), 0, 0, false},
		{math.Inf(-1), 3, 0, false},
		{0.5, 19, 0, false}, // exponent out of range
	}
	for _, c := range cases {
		m, ok := Mantissa(c.v, c.e)
		if ok != c.ok || (ok && m != c.m) {
			t.Errorf("Mantissa(%v, %d) = %d, %v; want %d, %v", c.v, c.e, m, ok, c.m, c.ok)
		}
	}
}

func TestChooseExponent(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		vs   []float64
		want int
	}{
		{"integers", []float64{58, 59, 12, 0, 100}, 0},
		{"hundredths", []float64{0.75, 0.82}, 2},
		{"hundredths and a NaN", []float64{0.75, nan, 0.82}, 2},
		{"mixed decimals: the longest wins", []float64{1.5, 2.25, 0.001}, 3},
		{"long fractions only", []float64{0.30000000000000004, 1.0000000000000002}, 0},
		// One value with 6 decimals among 99 integers: 72 bits as an
		// exception beat 99 × 6 × 3.32 bits of wider deltas.
		{"one outlier decimal", append(slices.Repeat([]float64{7}, 99), 0.123456), 0},
	}
	for _, c := range cases {
		if got := chooseExponent(c.vs); got != c.want {
			t.Errorf("%s: chooseExponent = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestAppendValuesKnownBytes(t *testing.T) {
	// The guide's example: 0.75, 0.82 are 75, 82 hundredths. Mantissa deltas
	// 75, 7 zig-zag to 150, 14; varint 96 01, 0e (3 bytes) beats one 8-byte
	// Simple-8b word.
	got := AppendValues(nil, []float64{0.75, 0.82})
	want := []byte{
		0x02,       // E = 2
		0x00, 0x03, // varint codec, 3 bytes
		0x96, 0x01, 0x0e, // 150, 14
		0x00, // no exceptions
	}
	if string(got) != string(want) {
		t.Fatalf("AppendValues = % x, want % x", got, want)
	}

	// A NaN between them: it repeats the previous mantissa (delta 0) and
	// its bits go to the exception list at position 1.
	nan := math.Float64frombits(0x7ff8_0000_0000_0001)
	got = AppendValues(nil, []float64{0.75, nan, 0.82})
	want = []byte{
		0x02,
		0x00, 0x04, 0x96, 0x01, 0x00, 0x0e,
		0x01,                                           // one exception
		0x01,                                           // position 1 (gap from -1 is 1)
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f, // the NaN's bits
	}
	if string(got) != string(want) {
		t.Fatalf("AppendValues with NaN = % x, want % x", got, want)
	}
	vs := make([]float64, 3)
	rest, err := DecodeValues(vs, got)
	if err != nil || len(rest) != 0 {
		t.Fatalf("DecodeValues: %v, %d bytes left", err, len(rest))
	}
	if vs[0] != 0.75 || math.Float64bits(vs[1]) != 0x7ff8_0000_0000_0001 || vs[2] != 0.82 {
		t.Fatalf("decoded %v", vs)
	}
}

func TestOneExceptionDoesNotSpoilTheColumn(t *testing.T) {
	// 10,000 two-decimal values; then the same with one NaN in the middle.
	// The NaN should cost its 8 raw bytes plus a few bytes of bookkeeping,
	// not switch the whole column to raw floats.
	vs := make([]float64, 10000)
	for i := range vs {
		vs[i] = float64(5000+i%50) / 100
	}
	clean := len(AppendValues(nil, vs))
	vs[5000] = math.NaN()
	dirty := len(AppendValues(nil, vs))
	if dirty > clean+16 {
		t.Fatalf("one NaN grew the column from %d to %d bytes", clean, dirty)
	}
}

func TestDecodeValuesRejectsBadExceptions(t *testing.T) {
	good := AppendValues(nil, []float64{0.75, math.NaN(), 0.82})
	cases := map[string][]byte{
		"exponent 19":                    append([]byte{19}, good[1:]...),
		"position past the end":          patch(good, 8, 0x05),
		"exception over a nonzero delta": patch(good, 8, 0x00),
		"missing raw bits":               good[:len(good)-1],
	}
	for name, b := range cases {
		if _, err := DecodeValues(make([]float64, 3), b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func patch(b []byte, i int, v byte) []byte {
	c := slices.Clone(b)
	c[i] = v
	return c
}
