package gorilla

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage02-delta/raw"
)

// The compressed file of the stage's CLI: a small header, then the series
// cut into chunks, one per aligned time window (see FileOptions.Window).
//
//	offset  size  field
//	0       4     magic "GRL3"
//	4       1     version (1)
//	5       8     number of points, uint64 little-endian
//	13      4     CRC-32C (Castagnoli) of the raw input file, uint32 little-endian
//	17      4     number of chunks, uint32 little-endian
//	21      ...   per chunk: its length as a uvarint, then the chunk bytes (chunk.go)
//
// The checksum covers the original 16-bytes-per-point raw file, not the
// compressed bytes: it lets decompress prove the round trip was bit-exact
// ("Verification: PASSED") without the original at hand.

// FileMagic starts every compressed file.
const FileMagic = "GRL3"

// FileVersion is the version this package writes and reads.
const FileVersion = 1

const fileHeaderSize = 21

// DefaultWindow is the CLI's chunk length: two hours, as in the paper. A
// chunk pays a fixed cost (header, first timestamp, raw first value: about
// 18 bytes), so longer chunks amortise it over more samples; the paper found
// the gains flatten out beyond two hours, and a longer chunk means more to
// decode when a query wants only a few minutes of it. Two hours is also the
// length of a Prometheus block, which stage06 follows.
const DefaultWindow int64 = 2 * 60 * 60 * 1000

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FileOptions controls EncodeFile.
type FileOptions struct {
	// Window is the chunk length in timestamp units (ms). Chunks are aligned
	// to multiples of Window, like the paper's blocks. Defaults to DefaultWindow.
	Window int64
	// Auto picks the Integer encoding for chunks whose values are all
	// integers, and XOR for the others. Defaults to false: every chunk is XOR,
	// the paper's encoding.
	Auto bool
}

// FileHeader is the decoded file header.
type FileHeader struct {
	Version uint8
	Points  uint64
	RawCRC  uint32 // CRC-32C of the raw point file
	Chunks  uint32
}

// RawChecksum returns the CRC-32C of the raw point file (stage02's format)
// holding ts and vs, without building the whole file in memory.
func RawChecksum(ts []int64, vs []float64) uint32 {
	const batch = 4096
	var crc uint32
	for i := 0; i < len(ts); i += batch {
		j := min(i+batch, len(ts))
		crc = crc32.Update(crc, castagnoli, raw.Encode(ts[i:j], vs[i:j]))
	}
	return crc
}

// EncodeFile compresses a series into the file format above and returns the
// file and the summed statistics of its chunks.
func EncodeFile(ts []int64, vs []float64, opt FileOptions) ([]byte, Stats, error) {
	var total Stats
	if len(ts) != len(vs) {
		return nil, total, fmt.Errorf("gorilla: %d timestamps but %d values", len(ts), len(vs))
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	out := make([]byte, fileHeaderSize, fileHeaderSize+len(ts)*2)
	copy(out, FileMagic)
	out[4] = FileVersion
	binary.LittleEndian.PutUint64(out[5:], uint64(len(ts)))
	binary.LittleEndian.PutUint32(out[13:], RawChecksum(ts, vs))
	chunks := 0
	for i := 0; i < len(ts); {
		j := chunkEnd(ts, i, opt.Window)
		enc := XOR
		if opt.Auto && AllIntegers(vs[i:j]) {
			enc = Integer
		}
		c, err := Encode(ts[i:j], vs[i:j], enc)
		if err != nil {
			return nil, total, err
		}
		st, err := c.Stats()
		if err != nil {
			return nil, total, fmt.Errorf("gorilla: chunk %d: %w", chunks, err)
		}
		total.Add(st)
		out = binary.AppendUvarint(out, uint64(len(c.Bytes())))
		out = append(out, c.Bytes()...)
		chunks++
		i = j
	}
	binary.LittleEndian.PutUint32(out[17:], uint32(chunks))
	return out, total, nil
}

// chunkEnd returns the end of the chunk that starts at ts[i]: the first
// sample in another window, or MaxSamples later.
func chunkEnd(ts []int64, i int, window int64) int {
	w := model.FloorDiv(ts[i], window)
	j := i + 1
	for j < len(ts) && j-i < MaxSamples && model.FloorDiv(ts[j], window) == w {
		j++
	}
	return j
}

// DecodeFileHeader parses and checks the fixed-size header.
func DecodeFileHeader(b []byte) (FileHeader, error) {
	var h FileHeader
	if len(b) < fileHeaderSize || string(b[:4]) != FileMagic {
		return h, fmt.Errorf("%w: not a %s file", ErrCorrupt, FileMagic)
	}
	h.Version = b[4]
	if h.Version != FileVersion {
		return h, fmt.Errorf("%w: file version %d, this reader knows %d", ErrCorrupt, h.Version, FileVersion)
	}
	h.Points = binary.LittleEndian.Uint64(b[5:])
	h.RawCRC = binary.LittleEndian.Uint32(b[13:])
	h.Chunks = binary.LittleEndian.Uint32(b[17:])
	return h, nil
}

// SplitFile checks the header and the chunk framing and returns the chunks,
// without decoding them: a reader that wants a time range can iterate only
// the chunks it needs.
func SplitFile(b []byte) (FileHeader, [][]byte, error) {
	h, err := DecodeFileHeader(b)
	if err != nil {
		return h, nil, err
	}
	rest := b[fileHeaderSize:]
	// Each chunk takes at least 3 bytes (length, header), which bounds an
	// honest count and keeps a corrupt header from asking for a huge slice.
	if uint64(h.Chunks) > uint64(len(rest))/3 {
		return h, nil, fmt.Errorf("%w: header claims %d chunks in %d bytes", ErrCorrupt, h.Chunks, len(rest))
	}
	chunks := make([][]byte, 0, h.Chunks)
	var points uint64
	for k := uint32(0); k < h.Chunks; k++ {
		n, m := binary.Uvarint(rest)
		if m <= 0 || n > uint64(len(rest)-m) || n < headerSize {
			return h, nil, fmt.Errorf("%w: chunk %d: bad length", ErrCorrupt, k)
		}
		chunk := rest[m : m+int(n)]
		rest = rest[m+int(n):]
		count := uint64(binary.BigEndian.Uint16(chunk) & countMask)
		// A sample takes at least 2 bits: this bounds what DecodeFile
		// allocates by the file's size, whatever the headers claim.
		if count > 4*n {
			return h, nil, fmt.Errorf("%w: chunk %d: %d samples in %d bytes", ErrCorrupt, k, count, n)
		}
		points += count
		chunks = append(chunks, chunk)
	}
	if len(rest) != 0 {
		return h, nil, fmt.Errorf("%w: %d bytes after the last chunk", ErrCorrupt, len(rest))
	}
	if points != h.Points {
		return h, nil, fmt.Errorf("%w: header says %d points, chunk headers %d", ErrCorrupt, h.Points, points)
	}
	return h, chunks, nil
}

// DecodeFile decompresses a whole file. It checks the structure (chunk
// lengths, point count, no trailing bytes); comparing RawChecksum of the
// result with the header's RawCRC is left to the caller, which may want to
// report it separately.
func DecodeFile(b []byte) (FileHeader, []int64, []float64, error) {
	h, chunks, err := SplitFile(b)
	if err != nil {
		return h, nil, nil, err
	}
	ts := make([]int64, 0, h.Points)
	vs := make([]float64, 0, h.Points)
	for k, chunk := range chunks {
		ts, vs, err = DecodeAll(chunk, ts, vs)
		if err != nil {
			return h, nil, nil, fmt.Errorf("chunk %d: %w", k, err)
		}
	}
	return h, ts, vs, nil
}
