package delta

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestUvarintKnownBytes(t *testing.T) {
	cases := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{300, []byte{0xac, 0x02}}, // 300 = 0b10_0101100: low 7 bits 0x2c|0x80, then 0b10
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{math.MaxUint64, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, c := range cases {
		got := AppendUvarint(nil, c.v)
		if string(got) != string(c.want) {
			t.Errorf("AppendUvarint(%d) = %x, want %x", c.v, got, c.want)
		}
		if UvarintLen(c.v) != len(c.want) {
			t.Errorf("UvarintLen(%d) = %d, want %d", c.v, UvarintLen(c.v), len(c.want))
		}
		v, n, err := Uvarint(append(c.want, 0xee)) // a following byte must be left alone
		if err != nil || v != c.v || n != len(c.want) {
			t.Errorf("Uvarint(%x) = %d, %d, %v", c.want, v, n, err)
		}
	}
}

func TestUvarintMatchesEncodingBinary(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		v := r.Uint64() >> r.IntN(64)
		want := binary.AppendUvarint(nil, v)
		got := AppendUvarint(nil, v)
		if string(got) != string(want) {
			t.Fatalf("AppendUvarint(%d) = %x, encoding/binary %x", v, got, want)
		}
	}
}

func TestUvarintErrors(t *testing.T) {
	for _, b := range [][]byte{
		{},
		{0x80},
		{0xff, 0xff},
		{0x80, 0x00}, // overlong zero
		{0xff, 0x80, 0x00},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, // 65 bits
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01},
	} {
		if _, _, err := Uvarint(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Uvarint(%x) error = %v, want ErrCorrupt", b, err)
		}
	}
}

// FuzzUvarint checks the decoder against encoding/binary: whatever we accept,
// it accepts with the same value and length, and we accept exactly the
// canonical (shortest) encodings.
func FuzzUvarint(f *testing.F) {
	f.Add([]byte{0xac, 0x02})
	f.Add([]byte{0x80, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Uvarint(b)
		wv, wn := binary.Uvarint(b)
		if err != nil {
			if wn > 0 && string(binary.AppendUvarint(nil, wv)) == string(b[:wn]) {
				t.Fatalf("Uvarint(%x) rejected the canonical encoding of %d: %v", b, wv, err)
			}
			return
		}
		if wn != n || wv != v {
			t.Fatalf("Uvarint(%x) = %d, %d; encoding/binary %d, %d", b, v, n, wv, wn)
		}
		if string(AppendUvarint(nil, v)) != string(b[:n]) {
			t.Fatalf("Uvarint(%x) accepted a non-canonical encoding", b[:n])
		}
	})
}
