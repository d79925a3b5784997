package gorilla

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// refXORValues is the oracle for AppendXORValues: the value half of
// refChunk (ref_test.go), written out again bit by bit as '0'/'1' text.
func refXORValues(vs []float64) []byte {
	if len(vs) == 0 {
		return nil
	}
	var r refBits
	prev := math.Float64bits(vs[0])
	r.put(prev, 64)
	winL, winT := -1, -1
	for _, f := range vs[1:] {
		v := math.Float64bits(f)
		r.putXOR(v^prev, &winL, &winT)
		prev = v
	}
	return packBits(r.String())
}

// sameFloats compares bit for bit (NaN == NaN, -0 != 0).
func sameFloats(t *testing.T, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("value %d: got %v (%016x), want %v (%016x)", i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
		}
	}
}

// TestXORValuesBytes checks a stream against bytes derived by hand:
// 1.0, 1.0, 2.0.
//
//	1.0 = 0x3ff0000000000000, 64 raw bits    3f f0 00 00 00 00 00 00
//	1.0 again: XOR 0                         0
//	2.0 = 0x4000000000000000: XOR with 1.0 is 0x7ff0000000000000,
//	    1 leading zero, 52 trailing, 11 meaningful bits: a new window
//	                                         11 00001 001011 11111111111
//	bits after the first 8 bytes: 0110 0001 | 0010 1111 | 1111 1111 | 1 + 7 zero bits
func TestXORValuesBytes(t *testing.T) {
	got := AppendXORValues(nil, []float64{1, 1, 2})
	want := []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x61, 0x2f, 0xff, 0x80}
	if string(got) != string(want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
}

// TestXORValuesRoundTrip runs every dataset through the encoder, compares
// it with the reference encoder, decodes it back, and checks that it is the
// value bits of the chunk of the same samples (the chunk minus its header
// and timestamp codes: same XOR coding, so the value costs must add up).
func TestXORValuesRoundTrip(t *testing.T) {
	for _, d := range datasets() {
		t.Run(d.name, func(t *testing.T) {
			prefix := []byte("keep")
			b := AppendXORValues(prefix, d.vs)
			if string(b[:4]) != "keep" {
				t.Fatalf("prefix overwritten: %q", b[:4])
			}
			s := b[4:]
			if want := refXORValues(d.vs); string(s) != string(want) {
				t.Fatalf("differs from the reference encoder\n got % x\nwant % x", s, want)
			}
			got, err := DecodeXORValues([]float64{-1}, s, len(d.vs))
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != -1 {
				t.Fatalf("dst's first element overwritten")
			}
			sameFloats(t, got[1:], d.vs)
			bits, err := DecodeXORBits([]uint64{7}, s, len(d.vs))
			if err != nil {
				t.Fatal(err)
			}
			if bits[0] != 7 || len(bits) != len(d.vs)+1 {
				t.Fatalf("DecodeXORBits: dst's first element %d, %d values", bits[0], len(bits)-1)
			}
			for i, v := range d.vs {
				if bits[i+1] != math.Float64bits(v) {
					t.Fatalf("DecodeXORBits value %d: %x, want the bits of %v", i, bits[i+1], v)
				}
			}
			if len(d.vs) > 1 {
				st, err := ChunkStats(mustEncode(t, d.ts, d.vs, XOR).Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if want := (st.ValueBits + 7) / 8; len(s) != want {
					t.Fatalf("stream of %d bytes, the chunk's value bits make %d", len(s), want)
				}
			}
		})
	}
}

// TestXORValuesCorrupt: damaged streams and wrong counts are ErrCorrupt.
func TestXORValuesCorrupt(t *testing.T) {
	good := AppendXORValues(nil, []float64{1, 1, 2, 2.5, 100, -3})
	cases := []struct {
		name string
		b    []byte
		n    int
	}{
		{"empty stream, values wanted", nil, 1},
		{"bytes for no values", good, 0},
		{"negative count", good, -1},
		{"truncated", good[:len(good)-1], 6},
		{"shorter than the first value", good[:7], 1},
		{"count too high", good, 7},
		{"count too low: bytes left over", good, 3},
		{"count beyond the bits", good, 1 << 20},
		{"non-zero padding", []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x61, 0x2f, 0xff, 0x81}, 3},
		{"'10' before any window", append(binary.BigEndian.AppendUint64(nil, 0), 0x80), 2},
	}
	for _, c := range cases {
		if _, err := DecodeXORValues(nil, c.b, c.n); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", c.name, err)
		}
	}
}

// FuzzXORValues: any float sequence round-trips bit for bit and matches the
// reference encoder; arbitrary bytes with an arbitrary count never panic,
// fail only with ErrCorrupt, and when accepted re-encode to themselves
// (the stream has one spelling per sequence).
func FuzzXORValues(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add(AppendXORValues(nil, []float64{1, 1, 2}), uint16(3))
	for _, d := range datasets() {
		if len(d.vs) > 0 && len(d.vs) <= 300 {
			f.Add(AppendXORValues(nil, d.vs), uint16(len(d.vs)))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint16) {
		vs := make([]float64, len(data)/8)
		for i := range vs {
			vs[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		b := AppendXORValues(nil, vs)
		if want := refXORValues(vs); string(b) != string(want) {
			t.Fatalf("differs from the reference encoder\n got % x\nwant % x", b, want)
		}
		got, err := DecodeXORValues(nil, b, len(vs))
		if err != nil {
			t.Fatal(err)
		}
		sameFloats(t, got, vs)

		dec, err := DecodeXORValues(nil, data, int(n))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := AppendXORValues(nil, dec); string(again) != string(data) {
			// Only an encoder's spelling decodes: a '11' where '10' would do
			// is not something AppendXORValues writes, so it may be accepted
			// and re-encode shorter. The values must still agree.
			back, err := DecodeXORValues(nil, again, len(dec))
			if err != nil {
				t.Fatal(err)
			}
			sameFloats(t, back, dec)
		}
	})
}

func BenchmarkXORValues(b *testing.B) {
	d := syntheticChunked(1000)
	var vs []float64
	for _, v := range d.vs {
		vs = append(vs, v...)
	}
	vs = vs[:min(len(vs), 100_000)]
	stream := AppendXORValues(nil, vs)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for range b.N {
			buf = AppendXORValues(buf[:0], vs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vs)), "ns/value")
		b.ReportMetric(float64(len(stream))/float64(len(vs)), "B/value")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var out []float64
		for range b.N {
			var err error
			if out, err = DecodeXORValues(out[:0], stream, len(vs)); err != nil || len(out) != len(vs) {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vs)), "ns/value")
	})
}
