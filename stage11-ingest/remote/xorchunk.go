package remote

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Prometheus's XOR chunk (tsdb/chunkenc), the encoding a Prometheus
// remote-read client accepts in STREAMED_XOR_CHUNKS. It is Gorilla, as
// stage03's chunk is, with other details:
//
//	2 bytes    number of samples, big-endian
//	varint     first timestamp (zig-zag)            then 64 bits: first value
//	uvarint    second timestamp − first             then the value XOR-encoded
//	per later sample, the delta of delta of its timestamp:
//	  0                              '0'
//	  in [-8191, 8192]               '10'   + 14 bits
//	  in [-65535, 65536]             '110'  + 17 bits
//	  in [-524287, 524288]           '1110' + 20 bits
//	  else                           '1111' + 64 bits
//	and the value XOR the previous one:
//	  0                              '0'
//	  inside the previous window     '10' + the meaningful bits
//	  else                           '11' + 5 bits leading zeros (at most 31)
//	                                      + 6 bits meaningful-bit count (64 as 0)
//	                                      + the meaningful bits
//
// Bits are written most significant first. stage03's layout differs (its
// header, its delta-of-delta buckets), so chunks stored by stage06 are
// re-encoded for a Prometheus client; nodes of this workspace take
// stage03's chunks as stored (ChunkStage03).

// MaxXORSamples is the most samples one XOR chunk holds (its count is 16
// bits); XORChunks cuts chunks of XORChunkSamples, as Prometheus's head does.
const (
	MaxXORSamples   = math.MaxUint16
	XORChunkSamples = 120
)

// ErrChunkTooLarge: more samples than an XOR chunk can count.
var ErrChunkTooLarge = fmt.Errorf("%w: more than %d samples in one XOR chunk", ErrInvalid, MaxXORSamples)

type xorWriter struct {
	b    []byte
	free uint8 // bits still free in the last byte
}

func (w *xorWriter) bit(one bool) {
	if w.free == 0 {
		w.b = append(w.b, 0)
		w.free = 8
	}
	w.free--
	if one {
		w.b[len(w.b)-1] |= 1 << w.free
	}
}

func (w *xorWriter) bits(v uint64, n int) {
	for n > 0 {
		if w.free == 0 {
			w.b = append(w.b, 0)
			w.free = 8
		}
		k := min(n, int(w.free))
		w.free -= uint8(k)
		chunk := (v >> (n - k)) & (1<<k - 1)
		w.b[len(w.b)-1] |= byte(chunk << w.free)
		n -= k
	}
}

func (w *xorWriter) bytes(p []byte) {
	for _, c := range p {
		w.bits(uint64(c), 8)
	}
}

// AppendXORChunk appends the XOR chunk of samples (time-ordered) to dst.
func AppendXORChunk(dst []byte, samples []model.Sample) ([]byte, error) {
	if len(samples) > MaxXORSamples {
		return dst, ErrChunkTooLarge
	}
	w := xorWriter{b: binary.BigEndian.AppendUint16(dst, uint16(len(samples)))}
	var (
		tDelta            uint64
		leading, trailing uint8 = 0xff, 0
		tmp               [binary.MaxVarintLen64]byte
	)
	for i, s := range samples {
		vb := math.Float64bits(s.V)
		switch i {
		case 0:
			w.bytes(tmp[:binary.PutVarint(tmp[:], s.T)])
			w.bits(vb, 64)
			continue
		case 1:
			tDelta = uint64(s.T - samples[0].T)
			w.bytes(tmp[:binary.PutUvarint(tmp[:], tDelta)])
		default:
			d := uint64(s.T - samples[i-1].T)
			dod := int64(d - tDelta)
			tDelta = d
			switch {
			case dod == 0:
				w.bit(false)
			case inBits(dod, 14):
				w.bits(0b10, 2)
				w.bits(uint64(dod), 14)
			case inBits(dod, 17):
				w.bits(0b110, 3)
				w.bits(uint64(dod), 17)
			case inBits(dod, 20):
				w.bits(0b1110, 4)
				w.bits(uint64(dod), 20)
			default:
				w.bits(0b1111, 4)
				w.bits(uint64(dod), 64)
			}
		}
		delta := vb ^ math.Float64bits(samples[i-1].V)
		if delta == 0 {
			w.bit(false)
			continue
		}
		w.bit(true)
		lz := uint8(min(bits.LeadingZeros64(delta), 31)) // 5 bits hold it
		tz := uint8(bits.TrailingZeros64(delta))
		if leading != 0xff && lz >= leading && tz >= trailing {
			w.bit(false)
			w.bits(delta>>trailing, 64-int(leading)-int(trailing))
			continue
		}
		leading, trailing = lz, tz
		w.bit(true)
		w.bits(uint64(lz), 5)
		sig := 64 - int(lz) - int(tz)
		w.bits(uint64(sig), 6) // 64 wraps to 0, read back as 64
		w.bits(delta>>tz, sig)
	}
	return w.b, nil
}

// inBits reports whether x fits Prometheus's n-bit delta-of-delta bucket:
// -(2^(n-1) - 1) ≤ x ≤ 2^(n-1).
func inBits(x int64, n uint) bool {
	return -((1<<(n-1))-1) <= x && x <= 1<<(n-1)
}

// XORChunks cuts time-ordered samples into XOR chunks of at most
// XORChunkSamples each.
func XORChunks(samples []model.Sample) []Chunk {
	var out []Chunk
	for len(samples) > 0 {
		n := min(len(samples), XORChunkSamples)
		data, _ := AppendXORChunk(nil, samples[:n]) // n is under the limit
		out = append(out, Chunk{MinT: samples[0].T, MaxT: samples[n-1].T, Type: ChunkXOR, Data: data})
		samples = samples[n:]
	}
	return out
}
