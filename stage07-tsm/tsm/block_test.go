package tsm

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage02-delta/delta"
)

// TestBlockRoundTrip encodes random blocks of every type and size and
// decodes them back bit for bit.
func TestBlockRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range allTypes {
		for _, n := range []int{1, 2, 7, 8, 9, 240, 999, 1000} {
			v := randSeries(r, typ, n)
			b, err := appendBlock([]byte("prefix"), &v)
			mustNoErr(t, err)
			var got Values
			if err := decodeBlock(b[len("prefix"):], &got); err != nil {
				t.Fatalf("%v n=%d: %v", typ, n, err)
			}
			if err := sameValues(got, v); err != nil {
				t.Fatalf("%v n=%d: %v", typ, n, err)
			}
		}
	}
	v := Values{Type: IntegerType}
	if _, err := appendBlock(nil, &v); err == nil {
		t.Error("empty block accepted")
	}
}

// TestBlockBytes checks a tiny integer block against bytes derived by hand.
func TestBlockBytes(t *testing.T) {
	v := Values{Type: IntegerType, T: []int64{10, 20, 30}, V: []uint64{5, 4, 6}}
	b, err := appendBlock(nil, &v)
	mustNoErr(t, err)
	// type 2, n=3, ts column: len, then stage02's column (8-byte t0, codec, …);
	// values: zigzag(5)=10, then Simple-8b of zigzag(-1)=1, zigzag(2)=4.
	if b[4] != 2 || b[5] != 3 {
		t.Fatalf("header % x", b[:6])
	}
	tl := int(b[6])
	vals := b[7+tl:]
	if vals[0] != 10 {
		t.Fatalf("first value byte %d, want 10 (zigzag of 5)", vals[0])
	}
	w := binary.LittleEndian.Uint64(vals[1:])
	// two 3-bit codes (selector 4: 20 × 3 bits) or narrower; decode generically
	sel := w >> 60
	bits := map[uint64]uint{2: 1, 3: 2, 4: 3, 5: 4}[sel]
	if bits == 0 || w&(1<<bits-1) != 1 || (w>>bits)&(1<<bits-1) != 4 || len(vals) != 9 {
		t.Fatalf("delta word %016x (selector %d), %d value bytes", w, sel, len(vals))
	}
}

// TestFloatBlockBytes checks a float block's layout by hand: the same
// timestamp column as the other types, then the values 1.0, 1.0, 2.0 as a
// values-only XOR stream (bytes derived in stage03's TestXORValuesBytes:
// 1.0 as 64 raw bits, '0' for the repeat, '11' 00001 001011 + 11 ones for
// the XOR 0x7ff0000000000000, padding).
func TestFloatBlockBytes(t *testing.T) {
	v := Values{Type: FloatType, T: []int64{10, 20, 30}, V: []uint64{math.Float64bits(1), math.Float64bits(1), math.Float64bits(2)}}
	b, err := appendBlock(nil, &v)
	mustNoErr(t, err)
	if b[4] != 1 || b[5] != 3 {
		t.Fatalf("header % x", b[:6])
	}
	tl := int(b[6])
	if want := delta.AppendTimestamps(nil, v.T); string(b[7:7+tl]) != string(want) {
		t.Fatalf("timestamp column % x, want stage02's % x", b[7:7+tl], want)
	}
	want := []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x61, 0x2f, 0xff, 0x80}
	if got := b[7+tl:]; string(got) != string(want) {
		t.Fatalf("value stream % x, want % x", got, want)
	}
	var got Values
	mustNoErr(t, decodeBlock(b, &got))
	mustNoErr(t, sameValues(got, v))
}

func TestBlockCorruption(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range allTypes {
		v := randSeries(r, typ, 100)
		b, _ := appendBlock(nil, &v)
		for _, i := range []int{0, 4, 5, len(b) / 2, len(b) - 1} {
			c := append([]byte(nil), b...)
			c[i] ^= 0x10
			var got Values
			if err := decodeBlock(c, &got); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v flip at %d: err %v, want ErrCorrupt", typ, i, err)
			}
		}
		var got Values
		if err := decodeBlock(b[:len(b)-1], &got); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v truncated: err %v", typ, err)
		}
	}
}

// FuzzDecodeBlock: damaged blocks (with a valid CRC, so the decoders
// themselves are exercised) give ErrCorrupt, never a panic.
func FuzzDecodeBlock(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range allTypes {
		v := randSeries(r, typ, 20)
		b, _ := appendBlock(nil, &v)
		f.Add(b[4:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(nil, crc32c(body))
		b = append(b, body...)
		var got Values
		err := decodeBlock(b, &got)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if err == nil {
			// what decodes must encode back to a block that decodes the same
			if got.Len() > MaxPointsPerBlock {
				t.Fatalf("%d values", got.Len())
			}
		}
	})
}
