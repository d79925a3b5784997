package chunks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage02-delta/gen"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

const staleNaN = 0x7ff0000000000002 // Prometheus's staleness marker

type coldCase struct {
	name string
	ts   []int64
	vs   []float64
}

func steps(n int, t0, step int64, v func(i int) float64) ([]int64, []float64) {
	ts, vs := make([]int64, n), make([]float64, n)
	for i := range n {
		ts[i], vs[i] = t0+int64(i)*step, v(i)
	}
	return ts, vs
}

// coldCases are the values and times a cold chunk must keep bit for bit:
// every special float, integers beyond 2^53, negative and huge values and
// times, one sample, and long series of the usual shapes.
func coldCases() []coldCase {
	rng := rand.New(rand.NewPCG(7, 8))
	specials := []float64{math.Float64frombits(staleNaN), math.NaN(), math.Float64frombits(0x7ff8000000000001),
		math.Float64frombits(0xfff8000000000000), math.Float64frombits(0x7ff0000000000001), math.Inf(1), math.Inf(-1),
		math.Copysign(0, -1), 0, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, 1<<53 + 2,
		-(1 << 62), 0.1 + 0.2, 1e-300, -123.456, 9.007199254740993e15}
	var cs []coldCase
	add := func(name string, ts []int64, vs []float64) { cs = append(cs, coldCase{name, ts, vs}) }
	add("one sample", []int64{1_700_000_000_000}, []float64{42})
	add("one stale marker", []int64{-5}, []float64{math.Float64frombits(staleNaN)})
	add("one huge", []int64{math.MaxInt64}, []float64{-math.MaxFloat64})
	ts, _ := steps(len(specials), 1000, 15_000, func(int) float64 { return 0 })
	add("specials", ts, specials)
	add("times at the extremes", []int64{math.MinInt64, -1 << 62, -1, 0, 1 << 62, math.MaxInt64}, []float64{1, 2, 3, 4, 5, 6})
	ctr := 0.0
	named := func(name string) func([]int64, []float64) {
		return func(ts []int64, vs []float64) { add(name, ts, vs) }
	}
	named("counter")(steps(8192, 0, 15_000, func(int) float64 { ctr += float64(rng.IntN(100)); return ctr }))
	named("3-decimal gauge, negative times")(steps(5000, -1_000_000, 10_000, func(i int) float64 { return math.Round(rng.NormFloat64()*1e3) / 1e3 }))
	named("huge random floats")(steps(3000, 0, 1, func(int) float64 { return rng.NormFloat64() * 1e300 }))
	named("random bits (NaNs of every payload)")(steps(4000, 0, 60_000, func(int) float64 { return math.Float64frombits(rng.Uint64()) }))
	named("negative with stale markers")(steps(2000, 0, 15_000, func(i int) float64 {
		if i%97 == 5 {
			return math.Float64frombits(staleNaN)
		}
		return -float64(i) * 1e12
	}))
	jt := make([]int64, 3000)
	for i := range jt {
		jt[i] = int64(i)*10_000 + int64(rng.IntN(11))
		if i > 0 && rng.IntN(500) == 0 {
			jt[i] += 1 << 40 // a jump
		}
		if i > 0 {
			jt[i] = max(jt[i], jt[i-1]+1)
		}
	}
	_, jv := steps(3000, 0, 1, func(int) float64 { return float64(rng.IntN(3)) })
	add("jittered times with jumps", jt, jv)
	return cs
}

func sameBits(t *testing.T, name string, gotT []int64, gotV []float64, ts []int64, vs []float64) {
	t.Helper()
	if len(gotT) != len(ts) || len(gotV) != len(vs) {
		t.Fatalf("%s: %d/%d samples back, want %d", name, len(gotT), len(gotV), len(ts))
	}
	for i := range ts {
		if gotT[i] != ts[i] || math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
			t.Fatalf("%s: sample %d = (%d, %#x), want (%d, %#x)", name, i, gotT[i], math.Float64bits(gotV[i]), ts[i], math.Float64bits(vs[i]))
		}
	}
}

func TestColdRoundTrip(t *testing.T) {
	var sc ColdScratch
	for _, c := range coldCases() {
		for _, compress := range []bool{false, true} {
			b, err := AppendCold([]byte("prefix"), c.ts, c.vs, compress, &sc)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if string(b[:6]) != "prefix" {
				t.Fatalf("%s: prefix overwritten", c.name)
			}
			b = b[6:]
			if !IsCold(b) || EncodingOf(b) != EncFloat {
				t.Fatalf("%s: first byte %#x", c.name, b[0])
			}
			if !compress && b[0] != ColdPlain {
				t.Fatalf("%s: compressed without being asked", c.name)
			}
			if n, err := ColdNumSamples(b); err != nil || n != len(c.ts) {
				t.Fatalf("%s: ColdNumSamples = %d, %v", c.name, n, err)
			}
			ts, vs, err := DecodeCold(b, nil, nil, &sc)
			if err != nil {
				t.Fatalf("%s (compress %v): %v", c.name, compress, err)
			}
			sameBits(t, c.name, ts, vs, c.ts, c.vs)
			ss, err := AppendColdSamples(b, nil, nil)
			if err != nil || len(ss) != len(c.ts) {
				t.Fatalf("%s: AppendColdSamples: %d, %v", c.name, len(ss), err)
			}
			for i, s := range ss {
				if s.T != c.ts[i] || math.Float64bits(s.V) != math.Float64bits(c.vs[i]) {
					t.Fatalf("%s: AppendColdSamples sample %d", c.name, i)
				}
			}
		}
	}
}

// Compression is kept only where it saves bytes: a long regular counter
// compresses; one sample does not.
func TestColdCompressWhenSmaller(t *testing.T) {
	for _, c := range coldCases() {
		plain, _ := AppendCold(nil, c.ts, c.vs, false, nil)
		z, _ := AppendCold(nil, c.ts, c.vs, true, nil)
		if len(z) > len(plain) {
			t.Fatalf("%s: compressed form %d bytes > plain %d", c.name, len(z), len(plain))
		}
		if (z[0] == ColdZstd) != (len(z) < len(plain)) {
			t.Fatalf("%s: zstd form %v, %d vs %d bytes", c.name, z[0] == ColdZstd, len(z), len(plain))
		}
		if c.name == "counter" && (z[0] != ColdZstd || float64(len(z))/float64(len(c.ts)) > 0.9) {
			t.Fatalf("counter: %d bytes for %d samples (zstd %v)", len(z), len(c.ts), z[0] == ColdZstd)
		}
	}
}

// The worked example of the README, byte by byte: 4 samples at 15 s, the
// last a staleness marker.
func TestColdKnownBytes(t *testing.T) {
	ts := []int64{1000, 16000, 31000, 46000}
	vs := []float64{10, 17, 17, math.Float64frombits(staleNaN)}
	want := []byte{
		0xA0, 0x04, // plain cold chunk, 4 samples
		0xe8, 0x03, 0, 0, 0, 0, 0, 0, // t0 = 1000
		0x00, 0x05, 0xb0, 0xea, 0x01, 0x00, 0x00, // varint, 5 bytes: zigzag(15000) = 30000, 0, 0
		0x00,                               // E = 0: integers
		0x00, 0x04, 0x14, 0x0e, 0x00, 0x00, // varint, 4 bytes: zigzag(10), zigzag(7), 0, 0 (the marker repeats 17)
		0x01, 0x03, // one exception, at position 3
		0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f, // its bits: the staleness marker
	}
	got, err := AppendCold(nil, ts, vs, false, nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("plain:\n got % x\nwant % x (%v)", got, want, err)
	}
	// Compressed, the body is laid out in byte planes; it is what the
	// zstd frame decompresses to.
	wantBody := []byte{
		0xe8, 0x03, 0, 0, 0, 0, 0, 0, // t0
		0x02, 0x07, 0x02, 0x30, 0x00, 0x00, 0x75, 0x00, 0x00, // planes, 7 bytes: width 2, low bytes, high bytes of 30000, 0, 0
		0x00, 0x02, 0x05, 0x01, 0x14, 0x0e, 0x00, 0x00, // E = 0; planes, 5 bytes: width 1, 20, 14, 0, 0
		0x01, 0x03, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f, // the exception
	}
	var w delta.ColumnWriter
	body, _, err := w.AppendColumns(nil, ts, vs, delta.BytePlanes)
	if err != nil || !bytes.Equal(body, wantBody) {
		t.Fatalf("planes body:\n got % x\nwant % x (%v)", body, wantBody, err)
	}
	// Framed by hand as the format says, it decodes.
	enc, _ := zstd.NewWriter(nil)
	framed := append([]byte{ColdZstd, 4, byte(len(wantBody))}, enc.EncodeAll(wantBody, nil)...)
	gotT, gotV, err := DecodeCold(framed, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "hand-framed", gotT, gotV, ts, vs)
}

func TestColdRejects(t *testing.T) {
	ts, vs := steps(500, 0, 15_000, func(i int) float64 { return float64(i * i) })
	if _, err := AppendCold(nil, nil, nil, true, nil); err == nil {
		t.Fatal("empty chunk encoded")
	}
	if _, err := AppendCold(nil, ts, vs[:3], true, nil); err == nil {
		t.Fatal("columns of different lengths encoded")
	}
	big := make([]int64, MaxColdSamples+1)
	if _, err := AppendCold(nil, big, make([]float64, len(big)), false, nil); err == nil {
		t.Fatal("too many samples encoded")
	}
	for _, compress := range []bool{false, true} {
		b, _ := AppendCold(nil, ts, vs, compress, nil)
		for n := range len(b) {
			if _, _, err := DecodeCold(b[:n], nil, nil, nil); !errors.Is(err, ErrColdCorrupt) {
				t.Fatalf("compress %v: truncated to %d of %d bytes: %v", compress, n, len(b), err)
			}
		}
		long := append(append([]byte(nil), b...), 0)
		if _, _, err := DecodeCold(long, nil, nil, nil); !errors.Is(err, ErrColdCorrupt) {
			t.Fatalf("compress %v: trailing byte accepted: %v", compress, err)
		}
		// Every byte changed: an error or samples, never a panic.
		for i := range b {
			bad := append([]byte(nil), b...)
			bad[i] ^= 0x5a
			DecodeCold(bad, nil, nil, nil)
		}
	}
	for _, bad := range [][]byte{
		nil, {0x00, 1}, {ColdPlain}, {ColdPlain, 0}, // not cold, no count, zero samples
		binary.AppendUvarint([]byte{ColdPlain}, MaxColdSamples+1),
		{ColdZstd, 1, 0},           // empty body
		{ColdZstd, 1, 0xff, 0x7f},  // body beyond the bound
		{ColdZstd, 1, 20, 1, 2, 3}, // not a zstd frame
	} {
		if _, _, err := DecodeCold(bad, nil, nil, nil); !errors.Is(err, ErrColdCorrupt) {
			t.Fatalf("% x: %v", bad, err)
		}
	}
	// Timestamps must increase (a block's chunk never repeats one).
	b, _ := AppendCold(nil, []int64{5, 5}, []float64{1, 2}, false, nil)
	if _, _, err := DecodeCold(b, nil, nil, nil); !errors.Is(err, ErrColdCorrupt) {
		t.Fatalf("repeated timestamp: %v", err)
	}
	if ss, err := AppendColdSamples(b, []model.Sample{{T: 1}}, nil); !errors.Is(err, ErrColdCorrupt) || len(ss) != 1 {
		t.Fatalf("repeated timestamp through AppendColdSamples: %d samples, %v", len(ss), err)
	}
	// A zstd frame whose body disagrees with the stated length.
	enc, _ := zstd.NewWriter(nil)
	var w delta.ColumnWriter
	body, _, _ := w.AppendColumns(nil, ts, vs, delta.BytePlanes)
	framed := binary.AppendUvarint(binary.AppendUvarint([]byte{ColdZstd}, 500), uint64(len(body)+1))
	framed = enc.EncodeAll(body, framed)
	if _, _, err := DecodeCold(framed, nil, nil, nil); !errors.Is(err, ErrColdCorrupt) {
		t.Fatalf("length mismatch: %v", err)
	}
}

func FuzzDecodeCold(f *testing.F) {
	for _, c := range coldCases()[:6] {
		for _, compress := range []bool{false, true} {
			b, _ := AppendCold(nil, c.ts, c.vs, compress, nil)
			f.Add(b)
		}
	}
	f.Add([]byte{ColdZstd, 3, 9, 0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, vs, err := DecodeCold(b, nil, nil, nil)
		if err != nil {
			if !errors.Is(err, ErrColdCorrupt) {
				t.Fatalf("error not ErrColdCorrupt: %v", err)
			}
			return
		}
		// Accepted: the samples encode and decode to themselves.
		for _, compress := range []bool{false, true} {
			again, err := AppendCold(nil, ts, vs, compress, nil)
			if err != nil {
				t.Fatal(err)
			}
			t2, v2, err := DecodeCold(again, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameBits(t, "re-encoded", t2, v2, ts, vs)
		}
	})
}

// TestColdZstdLevels: a zstd cold chunk holds the fastest level's frame of
// its byte planes, or, when that frame is under 1/coldRepeats of the
// planes (data that repeats), the smaller of it and the default level's.
// A sawtooth (a value that repeats every 60 samples) is where they differ:
// the default level finds the long matches, the fastest many short ones,
// slower to decode.
func TestColdZstdLevels(t *testing.T) {
	saw := make([]float64, 8192)
	ts := make([]int64, len(saw))
	for k := range saw {
		ts[k] = int64(k) * 60_000
		saw[k] = float64(7 + k%60 + k/60)
	}
	cases := append(coldCases(), coldCase{name: "sawtooth", ts: ts, vs: saw})
	// stage02's gauges: on a few of them the default level's frame is a
	// little smaller, but not worth the time it takes.
	for seed := range uint64(40) {
		gt, gv := gen.Series(2160, seed+1)
		cases = append(cases, coldCase{name: fmt.Sprint("gauge-", seed), ts: gt, vs: gv})
	}
	declined := 0
	var w delta.ColumnWriter
	for _, c := range cases {
		got, err := AppendCold(nil, c.ts, c.vs, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != ColdZstd {
			continue
		}
		planes, _, _ := w.AppendColumns(nil, c.ts, c.vs, delta.BytePlanes)
		var sizes []int
		for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
			sizes = append(sizes, len(appendZstd(nil, len(c.ts), planes, enc)))
		}
		want := sizes[0]
		if sizes[0]*coldRepeats < len(planes) {
			want = min(sizes[0], sizes[1])
		}
		if c.name == "sawtooth" && want != sizes[1] {
			t.Fatalf("sawtooth: the default level's frame was not tried (fastest %d bytes, planes %d)", sizes[0], len(planes))
		}
		if len(got) != want {
			t.Fatalf("%s: %d bytes, the levels' frames %v", c.name, len(got), sizes)
		}
		if c.name == "sawtooth" && sizes[1] >= sizes[0] {
			t.Fatalf("sawtooth: the default level's frame (%d bytes) is not the smaller (fastest: %d)", sizes[1], sizes[0])
		}
		if sizes[1] < sizes[0] && want == sizes[0] {
			declined++
		}
	}
	if declined == 0 {
		t.Fatal("no case where the default level's smaller frame was declined: the rule is not exercised")
	}
}
