package delta

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func words(ws ...uint64) []byte {
	var b []byte
	for _, w := range ws {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

func repeat(v uint64, n int) []uint64 { return slices.Repeat([]uint64{v}, n) }

// The expected words are worked out by hand from the selector table in
// simple8b.go.
var simple8bCases = []struct {
	name string
	in   []uint64
	want []byte
}{
	{"240 zeros: selector 0", repeat(0, 240), words(0)},
	{"120 zeros: selector 1", repeat(0, 120), words(1 << 60)},
	{"250 zeros: a run and a partial 1-bit word", repeat(0, 250), words(0, 2<<60)},
	{"130 zeros", repeat(0, 130), words(1<<60, 2<<60)},
	{"60 ones fill a 1-bit word", repeat(1, 60), words(0x2fff_ffff_ffff_ffff)},
	{"1,0,1 partial 1-bit word", []uint64{1, 0, 1}, words(2<<60 | 0b101)},
	{"3,1 in 2-bit slots", []uint64{3, 1}, words(3<<60 | 1<<2 | 3)},
	{"seven 8-bit values", repeat(255, 7), words(0x90ff_ffff_ffff_ffff)},
	{"two 30-bit values", []uint64{1<<30 - 1, 5}, words(14<<60 | 5<<30 | (1<<30 - 1))},
	{"escape for 31 bits", []uint64{1 << 30}, words(15<<60, 1<<30)},
	{"escape for MaxUint64", []uint64{math.MaxUint64, 0}, words(15<<60, math.MaxUint64, 2<<60)},
	{"10000 then zeros: 15-bit word", []uint64{10000, 0, 0, 0, 0}, words(12<<60|10000, 2<<60)},
}

func TestSimple8bKnownWords(t *testing.T) {
	for _, c := range simple8bCases {
		t.Run(c.name, func(t *testing.T) {
			got := AppendSimple8b(nil, c.in)
			if string(got) != string(c.want) {
				t.Fatalf("AppendSimple8b = %x, want %x", got, c.want)
			}
			if Simple8bLen(c.in) != len(c.want) {
				t.Errorf("Simple8bLen = %d, want %d", Simple8bLen(c.in), len(c.want))
			}
			dst := make([]uint64, len(c.in))
			if err := DecodeSimple8b(dst, c.want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dst, c.in) {
				t.Fatalf("decoded %v, want %v", dst, c.in)
			}
		})
	}
}

func TestSimple8bRoundTripRandomWidths(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		n := r.IntN(2000)
		in := make([]uint64, n)
		width := r.IntN(65)
		for i := range in {
			if r.IntN(3) == 0 {
				width = r.IntN(65) // change the width now and then
			}
			if width > 0 {
				in[i] = r.Uint64() >> (64 - width)
			}
		}
		enc := AppendSimple8b(nil, in)
		out := make([]uint64, n)
		if err := DecodeSimple8b(out, enc); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(in, out) {
			t.Fatalf("round trip differs for %d values", n)
		}
	}
}

func TestSimple8bDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		n    int
		src  []byte
	}{
		{"not whole words", 1, []byte{1, 2, 3}},
		{"missing words", 61, words(0x2fff_ffff_ffff_ffff)},
		{"trailing word", 60, words(0x2fff_ffff_ffff_ffff, 0)},
		{"nonzero padding in last word", 2, words(2<<60 | 0b111)},
		{"zero run with payload", 240, words(1)},
		{"zero run longer than the values left", 100, words(1 << 60)},
		{"escape with payload", 1, words(15<<60|1, 7)},
		{"escape without its value", 1, words(15 << 60)},
		{"unused bits of 7x8 word", 7, words(9<<60 | 1<<57)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := DecodeSimple8b(make([]uint64, c.n), c.src)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error = %v, want ErrCorrupt", err)
			}
		})
	}
}

// FuzzSimple8b decodes arbitrary words: no panic, and anything accepted must
// re-encode to words that decode to the same values.
func FuzzSimple8b(f *testing.F) {
	for _, c := range simple8bCases {
		f.Add(uint16(len(c.in)), c.want)
	}
	f.Add(uint16(3), words(2<<60|0b1000))
	f.Fuzz(func(t *testing.T, n uint16, src []byte) {
		dst := make([]uint64, n)
		if err := DecodeSimple8b(dst, src); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again := make([]uint64, n)
		if err := DecodeSimple8b(again, AppendSimple8b(nil, dst)); err != nil || !slices.Equal(dst, again) {
			t.Fatalf("re-encoding accepted values fails: %v", err)
		}
	})
}
