package delta

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/tsdb-course/stage02-delta/gen"
	"github.com/tsdb-course/stage02-delta/raw"
)

// point appends one raw point (16 bytes) for the seed corpus.
func point(b []byte, t int64, vbits uint64) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	return binary.LittleEndian.AppendUint64(b, vbits)
}

// FuzzRoundTrip reads the input twice: as raw points (any bits: extreme
// timestamps, NaN payloads, -0, ±Inf, subnormals), and as a stream of small
// steps (a byte of timestamp jitter, a byte of value change, a byte choosing
// the decimals), the shape real series have. Both must round-trip bit for bit.
func FuzzRoundTrip(f *testing.F) {
	var s []byte
	s = point(s, math.MinInt64, math.Float64bits(math.Inf(1)))
	s = point(s, math.MaxInt64, math.Float64bits(math.Inf(-1)))
	s = point(s, 0, math.Float64bits(math.Copysign(0, -1)))
	s = point(s, -1, 0x7ff8_dead_beef_0001) // NaN with a payload
	s = point(s, math.MinInt64, 0x7ff0_0000_0000_0001)
	s = point(s, 1<<62, math.Float64bits(0.75))
	s = point(s, -(1 << 62), math.Float64bits(0.82))
	f.Add(s)
	ts, vs := gen.Series(64, 1)
	f.Add(raw.Encode(ts, vs))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Fuzz(roundTripBoth)
}

func roundTripBoth(t *testing.T, data []byte) {
	{
		ts, vs, _ := raw.Decode(data[:len(data)/16*16])
		roundTrip(t, ts, vs)

		ts, vs = ts[:0], vs[:0]
		tcur, mcur := int64(1704067200000), int64(0)
		for i := 0; i+2 < len(data); i += 3 {
			tcur += 10000 + int64(int8(data[i]))
			mcur += int64(int8(data[i+1]))
			ts = append(ts, tcur)
			vs = append(vs, float64(mcur)/math.Pow(10, float64(data[i+2]%5)))
		}
		roundTrip(t, ts, vs)
	}
}

// FuzzDecompress feeds arbitrary bytes to the decoder: it must not panic,
// must report errors as ErrCorrupt, and whatever it accepts must survive a
// second round trip.
func FuzzDecompress(f *testing.F) {
	for _, n := range []int{0, 1, 2, 5, 300} {
		ts, vs := gen.Series(n, uint64(n))
		if n > 3 {
			vs[3] = math.NaN()
		}
		data, _ := Compress(ts, vs)
		f.Add(data)
		if len(data) > 4 {
			f.Add(data[:len(data)-3])
		}
	}
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, vs, err := Decompress(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		roundTrip(t, ts, vs)
	})
}
