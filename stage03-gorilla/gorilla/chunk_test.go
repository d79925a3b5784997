package gorilla

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestEncodeMatchesReference(t *testing.T) {
	check := func(t *testing.T, d dataset, enc Encoding) {
		c := mustEncode(t, d.ts, d.vs, enc)
		want := refChunk(d.ts, d.vs, enc)
		if !bytes.Equal(c.Bytes(), want) {
			t.Fatalf("chunk differs from the reference encoder\n got %x\nwant %x", c.Bytes(), want)
		}
		if c.NumSamples() != len(d.ts) || c.Encoding() != enc {
			t.Fatalf("NumSamples %d Encoding %v", c.NumSamples(), c.Encoding())
		}
		gotT, gotV := iterateAll(c.Iterator(nil))
		sameSamples(t, gotT, gotV, d.ts, d.vs)
		gotT, gotV, err := c.DecodeAll(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameSamples(t, gotT, gotV, d.ts, d.vs)
	}
	for _, d := range datasets() {
		t.Run("xor/"+d.name, func(t *testing.T) { check(t, d, XOR) })
	}
	for _, d := range integerDatasets() {
		t.Run("integer/"+d.name, func(t *testing.T) { check(t, d, Integer) })
		t.Run("xor/"+d.name, func(t *testing.T) { check(t, d, XOR) })
	}
}

// Appending to a chunk loaded from bytes must continue exactly where the
// first appender stopped, as if one appender had written everything
// (Prometheus's testChunk does the same every 10th sample).
func TestAppenderResumesFromBytes(t *testing.T) {
	for _, enc := range []Encoding{XOR, Integer} {
		sets := datasets()
		if enc == Integer {
			sets = integerDatasets()
		}
		for _, d := range sets {
			t.Run(enc.String()+"/"+d.name, func(t *testing.T) {
				c, _ := NewChunk(enc)
				for i := range d.ts {
					if i%10 == 0 {
						saved := append([]byte(nil), c.Bytes()...)
						var err error
						if c, err = FromBytes(saved); err != nil {
							t.Fatal(err)
						}
						snapshot := append([]byte(nil), saved...)
						a, err := c.Appender()
						if err != nil {
							t.Fatal(err)
						}
						if err := a.Append(d.ts[i], d.vs[i]); err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(saved, snapshot) {
							t.Fatal("appending wrote into the slice given to FromBytes")
						}
						for j := i + 1; j < len(d.ts) && j < i+10; j++ {
							if err := a.Append(d.ts[j], d.vs[j]); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
				if want := refChunk(d.ts, d.vs, enc); !bytes.Equal(c.Bytes(), want) {
					t.Fatalf("resumed chunk differs\n got %x\nwant %x", c.Bytes(), want)
				}
			})
		}
	}
}

func TestAppendErrors(t *testing.T) {
	c, _ := NewChunk(Integer)
	a, _ := c.Appender()
	for _, v := range []float64{1.5, math.NaN(), math.Inf(1), math.Copysign(0, -1), 1 << 63} {
		if err := a.Append(1, v); !errors.Is(err, ErrNotInteger) {
			t.Errorf("Append(%v) to an Integer chunk: err %v, want ErrNotInteger", v, err)
		}
	}
	if c.NumSamples() != 0 || len(c.Bytes()) != 2 {
		t.Fatalf("a refused append changed the chunk: %d samples, %d bytes", c.NumSamples(), len(c.Bytes()))
	}

	c, _ = NewChunk(XOR)
	a, _ = c.Appender()
	for i := range MaxSamples {
		if err := a.Append(int64(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Append(MaxSamples, 1); !errors.Is(err, ErrChunkFull) {
		t.Fatalf("append to a full chunk: %v", err)
	}
	if _, err := NewChunk(Encoding(2)); !errors.Is(err, ErrEncoding) {
		t.Fatalf("NewChunk(2): %v", err)
	}
}

func TestSeekTo(t *testing.T) {
	ts, vs := Synthetic(500, 1)
	c := mustEncode(t, ts, vs, XOR)
	// Oracle: the first index with ts[i] >= target, by linear search.
	first := func(target int64, from int) int {
		for i := from; i < len(ts); i++ {
			if ts[i] >= target {
				return i
			}
		}
		return len(ts)
	}
	it := c.Iterator(nil)
	pos := 0
	for _, target := range []int64{ts[0] - 5, ts[0], ts[3] + 1, ts[3], ts[100], ts[100] + 999, ts[499], ts[499] + 1, ts[0]} {
		want := first(target, pos)
		got := it.SeekTo(target)
		if want == len(ts) {
			if got {
				at, _ := it.At()
				t.Fatalf("SeekTo(%d) = true at %d, want false", target, at)
			}
			pos = want
			continue
		}
		pos = want
		at, v := it.At()
		if !got || at != ts[want] || v != vs[want] {
			t.Fatalf("SeekTo(%d) = %v at (%d,%v), want (%d,%v)", target, got, at, v, ts[want], vs[want])
		}
	}
	if it.Next() || it.Err() != nil {
		t.Fatalf("exhausted iterator: Next true or Err %v", it.Err())
	}
}

// Every way of damaging a valid chunk ends in ErrCorrupt or in other valid
// samples: never a panic, never a sample count other than the header's.
func TestCorruptChunks(t *testing.T) {
	ts, vs := Synthetic(300, 9)
	good := mustEncode(t, ts, vs, XOR).Bytes()
	cases := []struct {
		name string
		mod  func([]byte) []byte
	}{
		{"empty", func(b []byte) []byte { return nil }},
		{"one byte", func(b []byte) []byte { return b[:1] }},
		{"header only", func(b []byte) []byte { return b[:2] }},
		{"truncated in the first value", func(b []byte) []byte { return b[:12] }},
		{"truncated in the middle", func(b []byte) []byte { return b[:len(b)/2] }},
		{"last byte missing", func(b []byte) []byte { return b[:len(b)-1] }},
		{"extra byte", func(b []byte) []byte { return append(b, 0) }},
		// Up to 3 extra samples can hide in the last byte's padding (a sample
		// takes at least 2 bits and all-zero bits decode as one), so claim 4.
		{"count too large", func(b []byte) []byte { b[1] += 4; return b }},
		{"unknown encoding", func(b []byte) []byte { b[0] |= 0xc0; return b }},
		{"bad varint", func(b []byte) []byte {
			for i := 2; i < 12; i++ {
				b[i] = 0xff
			}
			return b
		}},
		{"reuse before any window", func(b []byte) []byte {
			// Two samples, second value coded '10' while no window exists.
			var r refBits
			r.put(0, 2)
			r.put(2, 14)
			r.put(0, 8)  // t0 = 0
			r.put(0, 64) // v0 = 0
			r.put(1, 8)  // delta 1
			r.putBits("10")
			return packBits(r.String())
		}},
		{"window wider than 64 bits", func(b []byte) []byte {
			var r refBits
			r.put(0, 2)
			r.put(2, 14)
			r.put(0, 8)
			r.put(0, 64)
			r.put(1, 8)
			r.putBits("11")
			r.put(31, 5) // 31 leading zeros
			r.put(40, 6) // and 40 meaningful bits: 71 > 64
			r.put(0, 40)
			return packBits(r.String())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mod(append([]byte(nil), good...))
			it := NewIterator(b)
			n := 0
			for it.Next() {
				n++
			}
			if it.Err() == nil || !errors.Is(it.Err(), ErrCorrupt) {
				t.Fatalf("iterator: %d samples, err %v, want ErrCorrupt", n, it.Err())
			}
			if _, _, err := DecodeAll(b, nil, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeAll: err %v, want ErrCorrupt", err)
			}
			if _, err := ChunkStats(b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ChunkStats: err %v, want ErrCorrupt", err)
			}
			if c, err := FromBytes(b); err == nil {
				if _, err := c.Appender(); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Appender: err %v, want ErrCorrupt", err)
				}
			}
		})
	}
}

func TestStatsAddUp(t *testing.T) {
	for _, d := range datasets() {
		c := mustEncode(t, d.ts, d.vs, XOR)
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		total := st.HeaderBits + st.TimestampBits + st.ValueBits + st.PaddingBits
		if total != 8*len(c.Bytes()) {
			t.Errorf("%s: stats account for %d bits, chunk has %d", d.name, total, 8*len(c.Bytes()))
		}
		if n := len(d.ts); n > 1 && st.Zero.Count+st.Reuse.Count+st.NewWindow.Count != n-1 {
			t.Errorf("%s: %d values classified, want %d", d.name, st.Zero.Count+st.Reuse.Count+st.NewWindow.Count, n-1)
		}
		if st.Zero.Bits != st.Zero.Count {
			t.Errorf("%s: repeats took %d bits for %d values", d.name, st.Zero.Bits, st.Zero.Count)
		}
	}
}

// A chunk started with any buffer size encodes the same bytes as the
// reference encoder; the buffer grows as needed.
func TestNewChunkSize(t *testing.T) {
	for _, size := range []int{-1, 0, MinChunkSize, 28, 32, 144, 1024} {
		for _, enc := range []Encoding{XOR, Integer} {
			sets := datasets()
			if enc == Integer {
				sets = integerDatasets()
			}
			for _, d := range sets {
				c, err := NewChunkSize(enc, size)
				if err != nil {
					t.Fatal(err)
				}
				a, err := c.Appender()
				if err != nil {
					t.Fatal(err)
				}
				for i := range d.ts {
					if err := a.Append(d.ts[i], d.vs[i]); err != nil {
						t.Fatalf("size %d %v/%s: sample %d: %v", size, enc, d.name, i, err)
					}
				}
				if want := refChunk(d.ts, d.vs, enc); !bytes.Equal(c.Bytes(), want) {
					t.Fatalf("size %d %v/%s: chunk differs from the reference encoder\n got %x\nwant %x", size, enc, d.name, c.Bytes(), want)
				}
			}
		}
	}
	if _, err := NewChunkSize(Encoding(3), 32); !errors.Is(err, ErrEncoding) {
		t.Fatalf("encoding 3: %v, want ErrEncoding", err)
	}
	// The size NewChunkSize's comment gives for one sample of any series.
	for _, ts := range []int64{0, math.MinInt64, math.MaxInt64} {
		c, _ := NewChunkSize(XOR, 28)
		a, _ := c.Appender()
		if err := a.Append(ts, math.Pi); err != nil {
			t.Fatal(err)
		}
		if len(c.w.buf) != 28 {
			t.Fatalf("t=%d: the first sample grew the 28-byte buffer to %d", ts, len(c.w.buf))
		}
	}
}

// TestResetInPlace: a chunk and appender embedded in a struct and started
// with Reset encode exactly what Encode does; Reset starts a new buffer,
// so bytes taken before it stay as they were; Appender.Reset resumes a
// chunk read back with FromBytes as Chunk.Appender does.
func TestResetInPlace(t *testing.T) {
	var held struct {
		c Chunk
		a Appender
	}
	for _, d := range datasets() {
		if len(d.ts) > MaxSamples {
			d.ts, d.vs = d.ts[:MaxSamples], d.vs[:MaxSamples]
		}
		if err := held.c.Reset(XOR, MinChunkSize); err != nil {
			t.Fatal(err)
		}
		if err := held.a.Reset(&held.c); err != nil {
			t.Fatal(err)
		}
		half := len(d.ts) / 2
		for i := range half {
			if err := held.a.Append(d.ts[i], d.vs[i]); err != nil {
				t.Fatalf("%s: %v", d.name, err)
			}
		}
		// Resume from the bytes, as a reader that only has them would.
		c, err := FromBytes(slices.Clone(held.c.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		var a Appender
		if err := a.Reset(c); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		for i := half; i < len(d.ts); i++ {
			if err := a.Append(d.ts[i], d.vs[i]); err != nil {
				t.Fatalf("%s: %v", d.name, err)
			}
		}
		want := mustEncode(t, d.ts, d.vs, XOR).Bytes()
		if !bytes.Equal(c.Bytes(), want) {
			t.Fatalf("%s: resumed with Appender.Reset: bytes differ from Encode", d.name)
		}
		before := slices.Clone(held.c.Bytes())
		kept := held.c.Bytes()
		if err := held.c.Reset(XOR, MinChunkSize); err != nil {
			t.Fatal(err)
		}
		if err := held.a.Reset(&held.c); err != nil {
			t.Fatal(err)
		}
		_ = held.a.Append(1, 2)
		if !bytes.Equal(kept, before) {
			t.Fatalf("%s: bytes taken before Reset changed", d.name)
		}
	}
	if err := held.c.Reset(Encoding(3), 0); !errors.Is(err, ErrEncoding) {
		t.Fatalf("Reset with a bad encoding: %v", err)
	}
}

// TestResetBuf: chunks started in neighbouring pieces of one garbage-filled
// slab encode exactly what Encode does, growing out of their piece without
// writing into the next one; a piece shorter than MinChunkSize is refused.
func TestResetBuf(t *testing.T) {
	const piece = 32
	for _, d := range datasets() {
		if len(d.ts) > MaxSamples {
			d.ts, d.vs = d.ts[:MaxSamples], d.vs[:MaxSamples]
		}
		slab := bytes.Repeat([]byte{0xa5}, 3*piece)
		var cs [3]Chunk
		for i := range cs {
			if err := cs[i].ResetBuf(Integer, slab[i*piece:(i+1)*piece]); err != nil {
				t.Fatal(err)
			}
		}
		// The middle chunk holds the data; its neighbours one sample each,
		// appended after it grew, so any write past its piece shows.
		a, err := cs[1].Appender()
		if err != nil {
			t.Fatal(err)
		}
		enc := XOR
		for i := range d.ts {
			if err := a.Append(d.ts[i], d.vs[i]); errors.Is(err, ErrNotInteger) {
				enc = XOR
				break
			} else if err != nil {
				t.Fatal(err)
			}
			enc = Integer
		}
		if enc == XOR {
			if err := cs[1].ResetBuf(XOR, slab[piece:2*piece]); err != nil {
				t.Fatal(err)
			}
			if a, err = cs[1].Appender(); err != nil {
				t.Fatal(err)
			}
			for i := range d.ts {
				if err := a.Append(d.ts[i], d.vs[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if want := mustEncode(t, d.ts, d.vs, enc).Bytes(); !bytes.Equal(cs[1].Bytes(), want) {
			t.Fatalf("%s: bytes differ from Encode", d.name)
		}
		for _, i := range []int{0, 2} {
			a, err := cs[i].Appender()
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Append(7, 3); err != nil {
				t.Fatal(err)
			}
			if want := mustEncode(t, []int64{7}, []float64{3}, Integer).Bytes(); !bytes.Equal(cs[i].Bytes(), want) {
				t.Fatalf("%s: neighbour %d: % x, want % x", d.name, i, cs[i].Bytes(), want)
			}
		}
	}
	var c Chunk
	if err := c.ResetBuf(XOR, make([]byte, MinChunkSize-1)); err == nil {
		t.Fatal("a buffer shorter than MinChunkSize was accepted")
	}
	if err := c.ResetBuf(Encoding(3), make([]byte, MinChunkSize)); !errors.Is(err, ErrEncoding) {
		t.Fatalf("bad encoding: %v", err)
	}
}
