package chunks

import (
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMetasRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []Meta {
		var ms []Meta
		tm := rng.Int64N(1<<40) - 1<<39
		off := 8
		for range n {
			mint := tm + rng.Int64N(1000)
			maxt := mint + rng.Int64N(1<<20)
			ms = append(ms, Meta{Ref: NewRef(1+rng.IntN(3), off), MinT: mint, MaxT: maxt})
			off += 1 + rng.IntN(5000)
			tm = maxt
		}
		return ms
	}
	cases := map[string][]Meta{
		"empty":    nil,
		"one":      {{Ref: NewRef(1, 8), MinT: 0, MaxT: 0}},
		"negative": {{Ref: NewRef(1, 8), MinT: -5000, MaxT: -1}, {Ref: NewRef(1, 40), MinT: 0, MaxT: 10}},
		// Refs may go backwards (a chunk in an earlier segment) and chunks
		// of one series may overlap (vertical compaction input).
		"ref-back":  {{Ref: NewRef(2, 8), MinT: 10, MaxT: 20}, {Ref: NewRef(1, 100), MinT: 15, MaxT: 30}},
		"extremes":  {{Ref: NewRef(math.MaxUint32, math.MaxUint32), MinT: math.MinInt64 / 2, MaxT: math.MinInt64/2 + 1<<62}},
		"random":    random(500),
		"same-time": {{Ref: NewRef(1, 8), MinT: 5, MaxT: 5}, {Ref: NewRef(1, 30), MinT: 5, MaxT: 5}},
	}
	for name, ms := range cases {
		t.Run(name, func(t *testing.T) {
			b := AppendMetas([]byte{0xAA}, ms)
			if b[0] != 0xAA {
				t.Fatal("AppendMetas overwrote dst")
			}
			got, err := DecodeMetas(b[1:], []Meta{{Ref: 99}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ms) && !(len(got) == 0 && len(ms) == 0) {
				t.Fatalf("got %v, want %v", got, ms)
			}
		})
	}
}

func TestDecodeMetasRejects(t *testing.T) {
	good := AppendMetas(nil, []Meta{{Ref: NewRef(1, 8), MinT: 100, MaxT: 200}, {Ref: NewRef(1, 50), MinT: 201, MaxT: 300}})
	for name, b := range map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), 0),
		"count":     {0xff, 0xff, 0xff, 0xff, 0x0f},
		// chunk 1 starts 150 before chunk 0's end: MinT 50 < chunk 0's 100.
		"order": AppendMetas(nil, []Meta{{Ref: 1, MinT: 100, MaxT: 200}, {Ref: 2, MinT: 50, MaxT: 60}}),
	} {
		if _, err := DecodeMetas(b, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodeMetas: any input decodes or fails with ErrCorrupt, never
// panics, and what decodes re-encodes to a list that decodes the same.
func FuzzDecodeMetas(f *testing.F) {
	f.Add(AppendMetas(nil, []Meta{{Ref: NewRef(1, 8), MinT: 1000, MaxT: 2000}, {Ref: NewRef(1, 90), MinT: 2001, MaxT: 3000}}))
	f.Add(AppendMetas(nil, nil))
	f.Add(AppendMetas(nil, []Meta{{Ref: NewRef(3, 8), MinT: -1, MaxT: 1 << 40}}))
	f.Add([]byte{0x80, 0x80, 0x80})
	f.Add([]byte{0x02, 0x00, 0x00, 0x00, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := DecodeMetas(b, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := DecodeMetas(AppendMetas(nil, ms), nil)
		if err != nil || !slices.Equal(again, ms) {
			t.Fatalf("re-encoded %v decodes to %v, %v", ms, again, err)
		}
	})
}

func crc32c(d []byte) uint32 { return crc32.Checksum(d, crc32.MakeTable(crc32.Castagnoli)) }

// The encoding of a stored chunk from its first byte: every Gorilla chunk
// (XOR or Integer header, any count) is EncFloat, as chunks written before
// histograms existed; the marker bytes name the histogram encodings, and a
// ref carries the same two bits without disturbing its file and offset.
func TestEncodingOf(t *testing.T) {
	for hdr := 0; hdr < 0x80; hdr++ { // header byte 0: bits 7-6 = 00 (XOR) or 01 (Integer)
		if e := EncodingOf([]byte{byte(hdr), 0}); e != EncFloat {
			t.Fatalf("header byte %#x: %s", hdr, e)
		}
	}
	if EncodingOf(nil) != EncFloat || EncodingOf([]byte{0x80}) != EncHistogram || EncodingOf([]byte{0xC0, 1}) != EncFloatHistogram {
		t.Fatal("marker bytes")
	}
	// Cold chunks are float chunks too, and are the only other first
	// bytes IsCold accepts.
	for b := 0; b < 256; b++ {
		cold := b == ColdPlain || b == ColdZstd
		if IsCold([]byte{byte(b)}) != cold {
			t.Fatalf("IsCold(%#x) = %v", b, !cold)
		}
		if cold && EncodingOf([]byte{byte(b), 1}) != EncFloat {
			t.Fatalf("cold first byte %#x: %s", b, EncodingOf([]byte{byte(b)}))
		}
	}
	for _, e := range []Encoding{EncHistogram, EncFloatHistogram} {
		if EncodingOf([]byte{e.Marker()}) != e {
			t.Fatalf("%s: marker %#x", e, e.Marker())
		}
		r := NewRef(1<<30-1, 1<<32-1).WithEncoding(e)
		if r.Encoding() != e || r.File() != 1<<30-1 || r.Offset() != 1<<32-1 {
			t.Fatalf("%s: ref %x: file %d offset %d encoding %s", e, uint64(r), r.File(), r.Offset(), r.Encoding())
		}
		if r.WithEncoding(EncFloat) != NewRef(1<<30-1, 1<<32-1) {
			t.Fatalf("%s: encoding not cleared", e)
		}
	}
}
