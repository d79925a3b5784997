package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A dense samples record byte by byte, worked out by hand from the format
// (the README's worked example).
func TestDenseSamplesBytes(t *testing.T) {
	got := AppendDenseSamples(nil, []RefSample{
		{Ref: 300, T: 1000, V: 1.5},
		{Ref: 301, T: 1000, V: 2.25},
		{Ref: 299, T: 1015, V: -3},
	})
	want := []byte{
		0x20,       // type 32: dense samples
		0x03,       // 3 samples
		0xAC, 0x02, // ref0 300 (uvarint)
		0x02,       // ref +1 (zig-zag 2)
		0x03,       // ref -2 (zig-zag 3)
		0xD0, 0x0F, // t0 1000 (zig-zag 2000)
		0x00,       // t +0
		0x1E,       // t +15 (zig-zag 30)
		0x02,       // e = 2: values are m / 100
		0xAC, 0x02, // m0 150 (zig-zag 300)
		0x96, 0x01, // m +75 (zig-zag 150): 225
		0x99, 0x08, // m -525 (zig-zag 1049 = 8<<7 | 0x19): -300
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	dec, err := DecodeSamples(got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != 3 || dec[0] != (RefSample{300, 1000, 1.5}) || dec[1] != (RefSample{301, 1000, 2.25}) || dec[2] != (RefSample{299, 1015, -3}) {
		t.Fatalf("decoded %+v", dec)
	}

	// One value that is no exact decimal (here -0, whose sign an integer
	// cannot carry) stores the whole value column raw.
	got = AppendDenseSamples(nil, []RefSample{{Ref: 7, T: -1, V: 4}, {Ref: 7, T: 0, V: math.Copysign(0, -1)}})
	want = []byte{
		0x20, 0x02, // type, 2 samples
		0x07, 0x00, // ref0 7, +0
		0x01, 0x02, // t0 -1 (zig-zag 1), +1 (zig-zag 2)
		0xFF,                         // raw values
		0, 0, 0, 0, 0, 0, 0x10, 0x40, // 4.0 = 0x4010000000000000
		0, 0, 0, 0, 0, 0, 0, 0x80, // -0.0
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("raw: got  % x\nwant % x", got, want)
	}
	if got := AppendDenseSamples(nil, nil); !bytes.Equal(got, []byte{0x20, 0x00}) {
		t.Fatalf("empty: % x", got)
	}
}

// The smallest exponent that keeps every value is chosen.
func TestDenseSamplesExponent(t *testing.T) {
	for _, c := range []struct {
		vals []float64
		want byte
	}{
		{[]float64{3, 4, 1e15}, 0},
		{[]float64{3, 0.5}, 1},
		{[]float64{0.1, 0.25, 7}, 2},
		{[]float64{36.6, 1e-9}, 9},
		{[]float64{1e-10}, rawValues},
		{[]float64{1, math.NaN()}, rawValues},
		{[]float64{math.Inf(1)}, rawValues},
		{[]float64{1 << 54}, rawValues}, // beyond 2^53: not an int64-safe mantissa
		{[]float64{1.0 / 3}, rawValues},
	} {
		ss := make([]RefSample, len(c.vals))
		for i, v := range c.vals {
			ss[i] = RefSample{Ref: uint64(i), T: 0, V: v}
		}
		rec := AppendDenseSamples(nil, ss)
		// type, count, n ref bytes, n time bytes, then the exponent
		if e := rec[2+2*len(ss)]; e != c.want {
			t.Errorf("%v: exponent %#x, want %#x", c.vals, e, c.want)
		}
		checkDenseRoundTrip(t, ss)
	}
}

func checkDenseRoundTrip(t *testing.T, ss []RefSample) {
	t.Helper()
	rec := AppendDenseSamples(nil, ss)
	got, err := DecodeSamples(rec, nil)
	if err != nil {
		t.Fatalf("%v: % x", err, rec)
	}
	if len(got) != len(ss) {
		t.Fatalf("decoded %d samples, want %d", len(got), len(ss))
	}
	for i := range ss {
		if got[i].Ref != ss[i].Ref || got[i].T != ss[i].T || math.Float64bits(got[i].V) != math.Float64bits(ss[i].V) {
			t.Fatalf("sample %d: got %+v (%#x), want %+v (%#x)", i, got[i], math.Float64bits(got[i].V), ss[i], math.Float64bits(ss[i].V))
		}
	}
}

// Every float survives, whatever the mix: random values of every kind,
// counters, decimals, extreme refs and timestamps.
func TestDenseSamplesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() float64{
		"counter":  func() float64 { return float64(rng.IntN(1 << 20)) },
		"decimal":  func() float64 { return float64(rng.IntN(100000)-50000) / 100 },
		"bits":     func() float64 { return math.Float64frombits(rng.Uint64()) },
		"fraction": func() float64 { return rng.Float64() },
		"huge":     func() float64 { return float64(rng.Int64()) },
		"edge": func() float64 {
			return []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), math.MaxFloat64,
				math.SmallestNonzeroFloat64, 1 << 53, -(1 << 53), 1<<53 + 2, 1e9 + 0.5}[rng.IntN(10)]
		},
	}
	for name, gen := range gens {
		for _, n := range []int{1, 2, 17, 1000} {
			ss := make([]RefSample, n)
			for i := range ss {
				ss[i] = RefSample{Ref: rng.Uint64() >> rng.IntN(64), T: int64(rng.Uint64()) >> rng.IntN(64), V: gen()}
			}
			t.Run(name, func(t *testing.T) { checkDenseRoundTrip(t, ss) })
		}
	}
	// A scrape of counters: refs +1, one timestamp, integer values. The
	// record is about 4 bytes a sample before compression.
	ss := make([]RefSample, 1000)
	for i := range ss {
		ss[i] = RefSample{Ref: uint64(5000 + i), T: 1_700_000_000_000, V: float64(20000 + rng.IntN(2000))}
	}
	checkDenseRoundTrip(t, ss)
	if n := len(AppendDenseSamples(nil, ss)); n > 4*1000 {
		t.Fatalf("a 1,000-counter scrape takes %d bytes", n)
	}
}

// Damaged dense records are refused with ErrCorrupt, never a panic: every
// prefix of a good record, a bad exponent, trailing bytes.
func TestDenseSamplesErrors(t *testing.T) {
	for _, vals := range [][]float64{{1, 2, 3}, {0.5, math.NaN(), 3}} {
		rec := AppendDenseSamples(nil, []RefSample{{1, 10, vals[0]}, {2, 10, vals[1]}, {3, 10, vals[2]}})
		for i := range len(rec) {
			if _, err := DecodeSamples(rec[:i], nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v cut at %d: %v", vals, i, err)
			}
		}
		if _, err := DecodeSamples(append(rec, 0), nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v with a trailing byte: %v", vals, err)
		}
	}
	bad := []byte{0x20, 0x01, 0x01, 0x00, maxDecimals + 1, 0x02}
	if _, err := DecodeSamples(bad, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("exponent %d: %v", maxDecimals+1, err)
	}
	bad[4] = maxDecimals
	if _, err := DecodeSamples(bad, nil); err != nil {
		t.Errorf("exponent %d: %v", maxDecimals, err)
	}
	// A count larger than the bytes could hold is refused before allocating.
	huge := binary.AppendUvarint([]byte{0x20}, 1<<40)
	if _, err := DecodeSamples(append(huge, 1, 2, 3), nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("huge count: %v", err)
	}
}

// FuzzDenseSamples: any samples built from the fuzzer's bytes round-trip
// bit for bit through the dense record, and any bytes that decode as one
// re-encode to the same samples.
func FuzzDenseSamples(f *testing.F) {
	f.Add(AppendDenseSamples(nil, []RefSample{{300, 1000, 1.5}, {301, 1000, 2.25}, {299, 1015, -3}}))
	f.Add(AppendDenseSamples(nil, []RefSample{{7, -1, 4}, {7, 0, math.NaN()}}))
	f.Add([]byte{0x20, 0x01, 0x01, 0x00, 0x09, 0x02})
	f.Add(bytes.Repeat([]byte{0x40, 0x8F, 0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0x3f, 0x80, 0x01}, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := DecodeSamples(b, nil); err == nil {
			s2, err := DecodeSamples(AppendDenseSamples(nil, s), nil)
			if err != nil || len(s2) != len(s) {
				t.Fatalf("re-encoding does not decode back: %v", err)
			}
			for i := range s {
				if s[i].Ref != s2[i].Ref || s[i].T != s2[i].T || math.Float64bits(s[i].V) != math.Float64bits(s2[i].V) {
					t.Fatalf("sample %d changed: %+v %+v", i, s[i], s2[i])
				}
			}
		}
		// The same bytes read as samples: 13 bytes each (ref delta,
		// time delta, value bits, and a byte choosing the value's kind).
		var ss []RefSample
		var ref uint64
		var ts int64
		for len(b) >= 13 {
			ref += uint64(b[0])
			ts += int64(int8(b[1]))
			v := math.Float64frombits(binary.LittleEndian.Uint64(b[2:]))
			switch b[10] % 4 {
			case 1: // an integer
				v = float64(int64(binary.LittleEndian.Uint32(b[2:])) - 1<<31)
			case 2: // a decimal
				v = float64(int32(binary.LittleEndian.Uint32(b[2:]))) / pow10[int(b[11])%(maxDecimals+1)]
			}
			ss = append(ss, RefSample{Ref: ref, T: ts, V: v})
			b = b[13:]
		}
		checkDenseRoundTrip(t, ss)
	})
}

// A log holding both samples forms (type 2 from before the dense record,
// type 32 after), compressed or not, replays in order, and a checkpoint
// filters the samples of both, each record keeping its form. The expected
// samples are stated by hand.
func TestDenseAndOldSamplesReplayAndCheckpoint(t *testing.T) {
	const mint = 1000
	dir := t.TempDir()
	old := []RefSample{{Ref: 1, T: 990, V: 1}, {Ref: 2, T: 1000, V: 2.5}, {Ref: 3, T: 1000, V: 3}}
	dense := []RefSample{{Ref: 1, T: 1015, V: 4}, {Ref: 2, T: 999, V: 5.25}, {Ref: 3, T: 1015, V: math.NaN()}}
	dense2 := []RefSample{{Ref: 1, T: 1030, V: 7}, {Ref: 2, T: 1030, V: 8}}
	var upto int
	for i, c := range []Compression{CompressionNone, CompressionSnappy, CompressionZstd} {
		w := mustOpen(t, dir, Options{Sync: SyncNone, Compression: c})
		var err error
		switch i {
		case 0:
			err = w.Log(AppendSamples(nil, old))
		case 1:
			if err = w.Log(AppendDenseSamples(nil, dense), AppendSamples(nil, old)); err == nil {
				upto, err = w.NextSegment() // the checkpoint below covers runs 0 and 1
			}
		case 2:
			err = w.Log(AppendDenseSamples(nil, dense2))
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, wantTypes []RecordType, want []RefSample) {
		t.Helper()
		r, err := NewReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var types []RecordType
		var got, ss []RefSample
		for r.Next() {
			types = append(types, Type(r.Record()))
			if ss, err = DecodeSamples(r.Record(), ss); err != nil {
				t.Fatal(err)
			}
			got = append(got, ss...)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		ok := slices.Equal(types, wantTypes) && len(got) == len(want)
		for i := 0; ok && i < len(got); i++ {
			ok = got[i].Ref == want[i].Ref && got[i].T == want[i].T && math.Float64bits(got[i].V) == math.Float64bits(want[i].V)
		}
		if !ok {
			t.Fatalf("%s: types %v, samples\n%v\nwant types %v, samples\n%v", what, types, got, wantTypes, want)
		}
	}
	both := []RecordType{RecordSamples, RecordDenseSamples, RecordSamples, RecordDenseSamples}
	check("replay", both, slices.Concat(old, dense, old, dense2))

	// Keep t ≥ mint, drop series 3: one sample of each checkpointed record.
	st, err := Checkpoint(dir, upto, func(ref uint64) bool { return ref != 3 }, mint)
	if err != nil {
		t.Fatal(err)
	}
	if st.SamplesKept != 3 || st.SamplesDropped != 6 {
		t.Fatalf("stats %+v", st)
	}
	check("after the checkpoint", both, []RefSample{{2, 1000, 2.5}, {1, 1015, 4}, {2, 1000, 2.5}, {1, 1030, 7}, {2, 1030, 8}})
}
