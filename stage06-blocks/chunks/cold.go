package chunks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage02-delta/delta"
)

// A cold chunk is the dense form compaction writes into blocks beyond the
// first level: a series' samples as stage02's two columns, optionally
// zstd-compressed. Gorilla (stage03) appends one sample at a time into a
// chunk that is readable at every step, which the head needs; a block is
// written once, so it can afford whole-column codecs and a general-purpose
// compressor over them, as VictoriaMetrics does for all its data.
//
//	byte 0        0xA0 (plain) or 0xA1 (zstd)
//	uvarint n     samples, 1 … MaxColdSamples
//	0xA0: body
//	0xA1: uvarint len(body) | one zstd frame (no checksum) that decompresses to body
//	body          stage02 timestamp column | stage02 value column (delta.DecodeColumns:
//	              t0, zigzag(delta-of-delta); decimal mantissas, zigzag(delta),
//	              exceptions as raw float64 bits); the integers packed (varint or
//	              Simple-8b, the smaller) in a plain chunk, in byte planes under zstd
//
// The first byte has its top bit set, which no Gorilla header has, and is
// neither histogram marker (0x80, 0xC0), so EncodingOf reads a cold chunk as
// EncFloat: its Ref says "float" and the decoder is chosen by IsCold. The
// sample count sits before the compressed bytes so that a reader sizes its
// buffers without decompressing. The chunk's CRC (segment entry) covers the
// stored bytes, so damage is found before anything is decompressed.
const (
	ColdPlain = 0xA0
	ColdZstd  = 0xA1
	// MaxColdSamples bounds a cold chunk (and a decoder's allocation for a
	// damaged count). Compaction writes at most ColdChunkSamples.
	MaxColdSamples = 1 << 16
	// ColdChunkSamples is how many samples compaction puts in one cold
	// chunk: VictoriaMetrics's block size. At a 15 s scrape a series'
	// 6 h block is one chunk, its 54 h block two.
	ColdChunkSamples = 8192
	// maxColdBody bounds the decompressed body: far above what
	// MaxColdSamples samples can take (at most ~35 bytes each).
	maxColdBody = 4 << 20
)

// ErrColdCorrupt wraps the errors of a cold chunk that does not decode.
var ErrColdCorrupt = errors.New("chunks: corrupt cold chunk")

// IsCold reports whether the stored float chunk b is a cold chunk (else it
// is a Gorilla chunk).
func IsCold(b []byte) bool { return len(b) > 0 && (b[0] == ColdPlain || b[0] == ColdZstd) }

// coldRepeats: the default zstd level is tried only when the fastest
// level's frame is less than 1/coldRepeats of the byte planes. Data that
// repeats (a sawtooth: 0.7 %) compresses that far, and there the default
// level's long matches decode faster; on the data that does not (TSBS,
// counters, gauges: 12-29 %) its frame was the smaller for 1 chunk in 15
// at most, by a few bytes, and trying it more than doubled the time zstd
// takes.
const coldRepeats = 32

var (
	// Two zstd levels: the fastest for every chunk, and the default one
	// too where data repeats (coldRepeats), the smaller frame kept (the
	// fastest on a tie). On byte planes the fastest level is as small as
	// the default one or smaller (TSBS: 5 % smaller), but on data that
	// repeats (a sawtooth, a counter reset every hour) it finds short
	// matches where the default level finds long ones, and a frame of
	// many short sequences decodes slowly: the week query of
	// BenchmarkQueryWeek costs 1.5 × the CPU over fastest-level frames.
	// EncodeAll is safe for concurrent use. No zstd checksum: the segment
	// entry's CRC-32C covers the bytes.
	coldEnc = sync.OnceValues(func() ([2]*zstd.Encoder, error) {
		var encs [2]*zstd.Encoder
		for i, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderCRC(false),
				zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
			if err != nil {
				return encs, err
			}
			encs[i] = enc
		}
		return encs, nil
	})
	coldDec = sync.OnceValues(func() (*zstd.Decoder, error) {
		return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxColdBody))
	})
)

// ColdScratch is reusable memory for encoding and decoding cold chunks.
// The zero value is ready; one is not safe for concurrent use.
type ColdScratch struct {
	w      delta.ColumnWriter
	body   []byte
	planes []byte
	alt    []byte // the default level's frame
	ts     []int64
	vs     []float64
}

// AppendCold appends the cold chunk of the samples (ts increasing, 1 …
// MaxColdSamples of them) to dst: zstd-compressed when compress is set and
// that comes out smaller, plain otherwise.
func AppendCold(dst []byte, ts []int64, vs []float64, compress bool, sc *ColdScratch) ([]byte, error) {
	if len(ts) == 0 || len(ts) > MaxColdSamples || len(ts) != len(vs) {
		return dst, fmt.Errorf("chunks: cold chunk of %d timestamps and %d values", len(ts), len(vs))
	}
	if sc == nil {
		sc = &ColdScratch{}
	}
	start := len(dst)
	if !compress {
		dst = append(dst, ColdPlain)
		dst = binary.AppendUvarint(dst, uint64(len(ts)))
		dst, _, err := sc.w.AppendColumns(dst, ts, vs, delta.Packed)
		return dst, err
	}
	enc, err := coldEnc()
	if err != nil {
		return dst, fmt.Errorf("chunks: zstd: %w", err)
	}
	// Under zstd the columns are laid out in byte planes, where every
	// delta is a whole byte that zstd's entropy coder prices at the
	// deltas' entropy (stage02's planes.go): 9 % smaller than zstd over
	// the packed columns on counters, 2 % larger on the TSBS cpu-only
	// series, and one compression per chunk instead of two. The plain
	// form is kept when it is smaller than the frame; AppendPlanes gives
	// a lower bound of its size from the same integers, so the packed
	// columns are priced (and written) only when the frame is not below
	// the bound: a chunk that zstd barely shrinks.
	planes, bound, err := sc.w.AppendPlanes(sc.planes[:0], ts, vs)
	sc.planes = planes
	if err != nil {
		return dst, err
	}
	dst = appendZstd(dst, len(ts), planes, enc[0])
	if (len(dst)-start)*coldRepeats < len(planes) {
		sc.alt = appendZstd(sc.alt[:0], len(ts), planes, enc[1])
		if len(sc.alt) < len(dst)-start {
			dst = append(dst[:start], sc.alt...)
		}
	}
	head := 1 + sizeUvarint(len(ts))
	if len(dst)-start < head+bound {
		return dst, nil
	}
	frame := len(dst) - start
	sc.body, _, err = sc.w.AppendColumns(sc.body[:0], ts, vs, delta.Packed)
	if err != nil || frame < head+len(sc.body) {
		return dst, err
	}
	dst = append(dst[:start], ColdPlain)
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	return append(dst, sc.body...), nil
}

// appendZstd appends a zstd cold chunk of n samples holding body.
func appendZstd(dst []byte, n int, body []byte, enc *zstd.Encoder) []byte {
	dst = append(dst, ColdZstd)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return enc.EncodeAll(body, dst)
}

func sizeUvarint(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// ColdNumSamples is the sample count of cold chunk b, read from its
// header without decompressing.
func ColdNumSamples(b []byte) (int, error) {
	n, _, err := coldHeader(b)
	return n, err
}

func coldHeader(b []byte) (n int, rest []byte, err error) {
	if !IsCold(b) {
		return 0, nil, fmt.Errorf("%w: not a cold chunk", ErrColdCorrupt)
	}
	u, k := binary.Uvarint(b[1:])
	if k <= 0 || u == 0 || u > MaxColdSamples {
		return 0, nil, fmt.Errorf("%w: bad sample count", ErrColdCorrupt)
	}
	return int(u), b[1+k:], nil
}

// DecodeCold decodes cold chunk b into ts and vs (reused when large
// enough) and returns them. Everything is checked: a damaged chunk gives
// an error wrapping ErrColdCorrupt, never a panic.
func DecodeCold(b []byte, ts []int64, vs []float64, sc *ColdScratch) ([]int64, []float64, error) {
	ts, vs, err := decodeColumns(b, ts, vs, sc)
	if err != nil {
		return ts, vs, err
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return ts[:0], vs[:0], fmt.Errorf("%w: timestamps not increasing at %d", ErrColdCorrupt, i)
		}
	}
	return ts, vs, nil
}

// decodeColumns is DecodeCold without the check that timestamps increase
// (AppendColdSamples makes it in its own pass over them).
func decodeColumns(b []byte, ts []int64, vs []float64, sc *ColdScratch) ([]int64, []float64, error) {
	n, rest, err := coldHeader(b)
	if err != nil {
		return ts[:0], vs[:0], err
	}
	if b[0] == ColdZstd {
		size, k := binary.Uvarint(rest)
		if k <= 0 || size == 0 || size > maxColdBody {
			return ts[:0], vs[:0], fmt.Errorf("%w: bad body length", ErrColdCorrupt)
		}
		dec, err := coldDec()
		if err != nil {
			return ts[:0], vs[:0], fmt.Errorf("chunks: zstd: %w", err)
		}
		var scratch []byte
		if sc != nil {
			scratch = sc.body
		}
		body, err := dec.DecodeAll(rest[k:], slices.Grow(scratch[:0], int(size)))
		if sc != nil {
			sc.body = body
		}
		if err != nil {
			return ts[:0], vs[:0], fmt.Errorf("%w: zstd: %w", ErrColdCorrupt, err)
		}
		if len(body) != int(size) {
			return ts[:0], vs[:0], fmt.Errorf("%w: body of %d bytes, header says %d", ErrColdCorrupt, len(body), size)
		}
		rest = body
	}
	ts = slices.Grow(ts[:0], n)[:n]
	vs = slices.Grow(vs[:0], n)[:n]
	rest, err = delta.DecodeColumns(ts, vs, rest)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d trailing bytes", len(rest))
	}
	if err != nil {
		return ts[:0], vs[:0], fmt.Errorf("%w: %w", ErrColdCorrupt, err)
	}
	return ts, vs, nil
}

// AppendColdSamples appends the samples of cold chunk b to dst.
func AppendColdSamples(b []byte, dst []model.Sample, sc *ColdScratch) ([]model.Sample, error) {
	if sc == nil {
		sc = &ColdScratch{}
	}
	var err error
	sc.ts, sc.vs, err = decodeColumns(b, sc.ts, sc.vs, sc)
	if err != nil {
		return dst, err
	}
	ts, vs := sc.ts, sc.vs[:len(sc.ts)]
	start := len(dst)
	dst = slices.Grow(dst, len(ts))[:start+len(ts)]
	out := dst[start:]
	prev := ts[0]
	out[0] = model.Sample{T: prev, V: vs[0]}
	for i := 1; i < len(ts); i++ {
		t := ts[i]
		if t <= prev {
			return dst[:start], fmt.Errorf("%w: timestamps not increasing at %d", ErrColdCorrupt, i)
		}
		out[i] = model.Sample{T: t, V: vs[i]}
		prev = t
	}
	return dst, nil
}
