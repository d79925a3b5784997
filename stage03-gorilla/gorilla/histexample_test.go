package gorilla

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// bitsToBytes turns lines of '0'/'1' into bytes, zero-padded to a byte
// boundary. Spaces are ignored, and so is everything after "//".
func bitsToBytes(s string) []byte {
	var out []byte
	n := 0
	var digits []rune
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		digits = append(digits, []rune(line)...)
	}
	for _, r := range digits {
		if r != '0' && r != '1' {
			continue
		}
		if n%8 == 0 {
			out = append(out, 0)
		}
		if r == '1' {
			out[len(out)-1] |= 0x80 >> (n % 8)
		}
		n++
	}
	return out
}

// TestHistogramWorkedExample replays the README's worked example: three
// scrapes of a schema-0 histogram, the bits derived by hand from the
// format, field by field.
//
// Observations 1, 1, 1.5 and 2 (sum 5.5) fill bucket 0, (0.5,1], with 2 and
// bucket 1, (1,2], with 2: one span {0, 2}, bucket deltas [2, 0]. The next
// scrape adds 1 and 1.5 (counts 3, 3, sum 8), the one after 0.75 and 2
// (counts 4, 4, sum 10.75).
func TestHistogramWorkedExample(t *testing.T) {
	span := []histogram.Span{{Offset: 0, Length: 2}}
	hs := []*histogram.Histogram{
		{Schema: 0, Count: 4, Sum: 5.5, PositiveSpans: span, PositiveBuckets: []int64{2, 0}},
		{Schema: 0, Count: 6, Sum: 8, PositiveSpans: span, PositiveBuckets: []int64{3, 0}},
		{Schema: 0, Count: 8, Sum: 10.75, PositiveSpans: span, PositiveBuckets: []int64{4, 0}},
	}
	ts := []int64{0, 15000, 30000}
	want := bitsToBytes(`
		0000 0000 0000 0011             // header: hint 00 (unknown), 3 samples
		0000 0000                       // t0 = 0, zig-zag varint
		0 00000000000                   // zero threshold 0: '0' + exponent field 0
		0                               // schema 0
		10000 0 10001                   // 1 positive span: offset 0, length 2
		0                               // 0 negative spans
		11 00001 001110 10000000001011  // sum 5.5 XOR 0 = 0x4016000000000000: 1 leading, 14 bits
		0                               // zero count 0
		10001 0                         // buckets 2, 0
		0                               // count - zero count - buckets = 4 - 0 - 4 = 0
		110 00011101010011000           // t1 - t0 = 15000: dod bucket '110' + 17 bits
		11 01010 000101 11011           // sum 8 XOR 5.5 = 0x0036000000000000: new window, 10 leading, 5 bits
		0                               // zero count delta 0
		10000 0                         // bucket 0: 3-2 = 1 (delta 1, dod 1); bucket 1: 0
		0                               // count excess unchanged
		0                               // dod 0
		11 01101 000100 1011            // sum 10.75 XOR 8 = 0x0005800000000000: 47 trailing < 49, new window
		0                               // zero count dod 0
		0 0                             // bucket 0: delta 1 again, dod 0; bucket 1: 0
		0                               // count excess unchanged
	`)
	c := NewHistogramChunk()
	a, _ := c.Appender()
	for i, h := range hs {
		if err := a.Append(ts[i], h); err != nil {
			t.Fatal(err)
		}
	}
	if len(want) != 19 {
		t.Fatalf("the example's bits make %d bytes, the README says 19", len(want))
	}
	if !bytes.Equal(c.Bytes(), want) {
		t.Fatalf("chunk\n% x\nwant\n% x", c.Bytes(), want)
	}
	_, got := decodeHistograms(t, want)
	for i := range hs {
		if !sameHistogram(got[i], hs[i]) {
			t.Fatalf("sample %d decodes to %+v", i, got[i])
		}
	}
}

// TestVarbitCodes checks the variable-length code against hand-written
// bits at every bucket boundary.
func TestVarbitCodes(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		bits string
	}{
		{0, "0"},
		{1, "10 000"},
		{4, "10 011"},
		{-1, "10 111"},
		{-4, "10 100"},
		{5, "110 00100"},
		{-5, "110 11011"},
		{16, "110 01111"},
		{-16, "110 10000"},
		{17, "1110 0010000"},
		{64, "1110 0111111"},
		{-65, "11110 1110111111"},
		{512, "11110 0111111111"},
		{513, "111110 00001000000000"},
		{8192, "111110 01111111111111"},
		{8193, "1111110 00000000000000000010000000000000"},
		{-1 << 31, "1111110 10000000000000000000000000000000"},
		{1 << 31, "1111110 01111111111111111111111111111111"},
		{1<<31 + 1, "1111111 0000000000000000000000000000000010000000000000000000000000000001"},
	} {
		w := bitWriter{buf: make([]byte, 32)}
		w.writeVarbit(tc.v)
		want := strings.ReplaceAll(tc.bits, " ", "")
		if w.nbits() != len(want) || !bytes.Equal(w.bytes(), bitsToBytes(want)) {
			t.Errorf("%d: wrote %d bits % x, want %s", tc.v, w.nbits(), w.bytes(), tc.bits)
		}
		if varbitLen(tc.v) != len(want) {
			t.Errorf("%d: varbitLen %d, want %d", tc.v, varbitLen(tc.v), len(want))
		}
		r := bitReader{b: w.bytes()}
		if got := r.readVarbit(); got != tc.v || r.pos != len(want) {
			t.Errorf("%s: read %d (%d bits), want %d", tc.bits, got, r.pos, tc.v)
		}
	}
}

// readBucketDods, the branch-free loop, reads what writeVarbit wrote, at
// every width, the escape included, and sums the absolute counts.
func TestReadBucketDods(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := rng.IntN(60)
		vals := make([]int64, n)
		w := bitWriter{buf: make([]byte, 16)}
		for i := range vals {
			switch rng.IntN(4) {
			case 0:
			case 1:
				vals[i] = int64(rng.IntN(64)) - 32
			case 2:
				vals[i] = rng.Int64N(1<<40) - 1<<39
			default:
				vals[i] = int64(rng.Uint64())
			}
			w.writeVarbit(vals[i])
		}
		w.writeBits(0b101, 3) // what follows must stay unread
		r := bitReader{b: w.bytes()}
		b, delta := make([]int64, n), make([]int64, n)
		total := r.readBucketDods(b, delta)
		var abs int64
		var want uint64
		for i, v := range vals {
			if b[i] != v || delta[i] != v {
				t.Fatalf("value %d: got %d (delta %d), want %d", i, b[i], delta[i], v)
			}
			abs += v
			want += uint64(abs)
		}
		if total != want || r.readBits(3) != 0b101 {
			t.Fatalf("total %d, want %d, or the position is off", total, want)
		}
	}
}

// readXORFields, the float histogram's inlined loop, decodes what
// writeXOR wrote field by field, windows of every width included, and
// refuses a '10' before any window as readXOR does.
func TestReadXORFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		n := 1 + rng.IntN(40)
		enc := make([]xorField, n)
		dec := make([]xorField, n)
		for i := range enc {
			enc[i], dec[i] = newXORField, newXORField
		}
		w := bitWriter{buf: make([]byte, 16)}
		var rounds [][]uint64
		for range 5 {
			vals := make([]uint64, n)
			for i := range vals {
				switch rng.IntN(4) {
				case 0:
					vals[i] = enc[i].v // repeat
				case 1:
					vals[i] = enc[i].v ^ uint64(rng.IntN(16))<<uint(rng.IntN(40)) // narrow change
				case 2:
					vals[i] = rng.Uint64() // wide window
				default:
					vals[i] = math.Float64bits(float64(rng.IntN(1000)) / 7)
				}
				w.writeXOR(0, 0, vals[i]^enc[i].v, &enc[i].leading, &enc[i].trailing)
				enc[i].v = vals[i]
			}
			rounds = append(rounds, vals)
		}
		r := bitReader{b: w.bytes()}
		for k, vals := range rounds {
			sum, ok := r.readXORFields(dec, 0.5)
			if !ok {
				t.Fatalf("round %d: refused", k)
			}
			want := 0.5
			for _, v := range vals {
				want += math.Float64frombits(v)
			}
			if math.Float64bits(sum) != math.Float64bits(want) {
				t.Fatalf("round %d: sum %v, want %v", k, sum, want)
			}
			for i := range vals {
				if dec[i].v != vals[i] {
					t.Fatalf("round %d field %d: %x, want %x", k, i, dec[i].v, vals[i])
				}
			}
		}
		if r.pos != w.nbits() {
			t.Fatalf("read %d bits, %d written", r.pos, w.nbits())
		}
	}
	r := bitReader{b: []byte{0b10_000000, 0, 0, 0, 0, 0, 0, 0}}
	if _, ok := r.readXORFields([]xorField{newXORField}, 0); ok {
		t.Fatal("a '10' before any window was accepted")
	}
}
