package gorilla

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// seedChunks are valid chunks and damaged copies for the decoder fuzzers.
func seedChunks(f *testing.F) {
	for _, d := range datasets() {
		if len(d.ts) > 300 {
			d.ts, d.vs = d.ts[:300], d.vs[:300]
		}
		b := mustEncode(f, d.ts, d.vs, XOR).Bytes()
		f.Add(b)
		if len(b) > 4 {
			f.Add(b[:len(b)/2])
			flipped := append([]byte(nil), b...)
			flipped[len(b)/2] ^= 0x10
			f.Add(flipped)
		}
	}
	for _, d := range integerDatasets() {
		f.Add(mustEncode(f, d.ts, d.vs, Integer).Bytes())
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff})
}

// FuzzIterator: arbitrary bytes never panic or loop; the fast loops (into
// columns and into rows) agree with the one-step reference decoder, samples
// and verdict; when the iterator accepts a chunk, DecodeAll and Stats agree
// with it, and re-encoding what it yielded reproduces the chunk exactly
// (the format has one spelling per sample sequence, apart from padding a
// corrupt tail).
func FuzzIterator(f *testing.F) {
	seedChunks(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFastMatchesStep(t, b, []int{1, 7, batchSize})
		it := NewIterator(b)
		gotT, gotV := iterateAll(it)
		if it.Err() != nil {
			if !errors.Is(it.Err(), ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", it.Err())
			}
			if _, _, err := DecodeAll(b, nil, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("iterator failed (%v) but DecodeAll says %v", it.Err(), err)
			}
			return
		}
		allT, allV, err := DecodeAll(b, nil, nil)
		if err != nil {
			t.Fatalf("iterator accepted the chunk, DecodeAll: %v", err)
		}
		sameSamples(t, allT, allV, gotT, gotV)
		if _, err := ChunkStats(b); err != nil {
			t.Fatalf("iterator accepted the chunk, Stats: %v", err)
		}
		c, _ := FromBytes(b)
		if _, err := c.Appender(); err != nil {
			t.Fatalf("iterator accepted the chunk, Appender: %v", err)
		}
	})
}

// FuzzRoundTrip: any sample sequence survives encode + decode bit for bit,
// and the encoder agrees with the reference encoder of ref_test.go.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(make([]byte, 16*5), true)
	f.Add([]byte("0123456789abcdef0123456789abcdefxxxxyyyyzzzzwwww"), false)
	f.Fuzz(func(t *testing.T, data []byte, integers bool) {
		var ts []int64
		var vs []float64
		var prev int64
		for len(data) >= 10 && len(ts) < MaxSamples {
			// 2 bytes of timestamp step (so dods stay mostly small), 8 of value.
			prev += int64(int16(binary.LittleEndian.Uint16(data)))
			v := math.Float64frombits(binary.LittleEndian.Uint64(data[2:]))
			if integers {
				v = float64(int32(binary.LittleEndian.Uint32(data[2:])))
			}
			ts = append(ts, prev)
			vs = append(vs, v)
			data = data[10:]
		}
		enc := XOR
		if integers {
			enc = Integer
		}
		c := mustEncode(t, ts, vs, enc)
		if want := refChunk(ts, vs, enc); string(c.Bytes()) != string(want) {
			t.Fatalf("differs from reference encoder\n got %x\nwant %x", c.Bytes(), want)
		}
		gotT, gotV, err := c.DecodeAll(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameSamples(t, gotT, gotV, ts, vs)
	})
}

// FuzzDecodeFile: arbitrary files never panic; errors wrap ErrCorrupt.
func FuzzDecodeFile(f *testing.F) {
	ts, vs := Synthetic(2000, 4)
	good, _, err := EncodeFile(ts, vs, FileOptions{Window: 600_000})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:fileHeaderSize])
	f.Add([]byte(FileMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, err := DecodeFile(b)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}
