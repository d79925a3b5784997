package chunks

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// A block's chunk segment file (chunks/000001, 000002, …):
//
//	header  4 bytes magic "TSC6" | 1 byte version (1) | 3 zero bytes
//	entry   uvarint n | n bytes: a chunk (encoding.go) | uint32 LE CRC-32C of the n bytes
//	entry   …
//
// A Ref's offset points at an entry's length. The chunk carries its own
// sample count and encoding in its first bytes (a Gorilla header, or a
// histogram marker byte: encoding.go), so the entry adds only the length
// and the checksum. A segment never exceeds MaxSegmentSize, so
// offsets fit in 32 bits.
const (
	SegmentMagic     = "TSC6"
	segmentVersion   = 1
	SegmentHeader    = 8
	MaxSegmentSize   = 512 << 20
	maxChunkLen      = 1 << 20 // far above any 120-sample chunk: a larger length is damage
	segmentNameWidth = 6
)

// SegmentName is the file name of segment n (1-based): 000001.
func SegmentName(n int) string { return fmt.Sprintf("%0*d", segmentNameWidth, n) }

// SegmentWriter writes chunks to numbered segment files in a directory.
type SegmentWriter struct {
	dir     string
	maxSize int64
	n       int // current segment number
	f       *os.File
	w       *bufio.Writer
	off     int64
	files   []string
	buf     []byte
	// unsynced counts the bytes written to the current segment since its
	// last fsync; past syncEvery the writer flushes and fsyncs (syncStep).
	unsynced  int64
	syncEvery int64
	syncHook  func() // tests: runs before every fsync of a segment
}

// SyncEvery is how many bytes a SegmentWriter writes between fsyncs of a
// segment. A compaction writes hundreds of MiB; left dirty until one fsync
// at the end, they make every ext4 journal commit in the meantime (each
// WAL fsync that grows its segment needs one) wait in data=ordered mode
// for the writeback of all of them, and commits stall for tenths of a
// second. Written back a step at a time, a WAL fsync waits for one step at
// most: 1 MiB is about 8 ms on a disk writing 130 MB/s (4 MiB was 30 ms,
// three times the 10 ms a write may take at the 99th percentile).
const SyncEvery = 1 << 20

// NewSegmentWriter writes segments into dir (created if needed). maxSize
// ≤ 0 means MaxSegmentSize; larger values are capped to it.
func NewSegmentWriter(dir string, maxSize int64) (*SegmentWriter, error) {
	if maxSize <= 0 || maxSize > MaxSegmentSize {
		maxSize = MaxSegmentSize
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	return &SegmentWriter{dir: dir, maxSize: maxSize, syncEvery: SyncEvery}, nil
}

func (w *SegmentWriter) cut() error {
	if err := w.finish(); err != nil {
		return err
	}
	w.n++
	name := filepath.Join(w.dir, SegmentName(w.n))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("chunks: %w", err)
	}
	w.f, w.w, w.off, w.unsynced = f, bufio.NewWriterSize(f, 1<<20), SegmentHeader, 0
	w.files = append(w.files, name)
	hdr := [SegmentHeader]byte{'T', 'S', 'C', '6', segmentVersion}
	_, err = w.w.Write(hdr[:])
	return err
}

// finish flushes, fsyncs and closes the current segment.
func (w *SegmentWriter) finish() error {
	if w.f == nil {
		return nil
	}
	err := w.syncStep()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("chunks: %w", err)
	}
	return nil
}

// WriteChunk appends one chunk's bytes and returns its reference.
func (w *SegmentWriter) WriteChunk(data []byte) (Ref, error) {
	if len(data) == 0 || len(data) > maxChunkLen {
		return 0, fmt.Errorf("chunks: chunk of %d bytes", len(data))
	}
	w.buf = binary.AppendUvarint(w.buf[:0], uint64(len(data)))
	size := int64(len(w.buf) + len(data) + 4)
	if w.f == nil || w.off+size > w.maxSize {
		if err := w.cut(); err != nil {
			return 0, err
		}
	}
	ref := NewRef(w.n, int(w.off)).WithEncoding(EncodingOf(data))
	w.buf = append(w.buf, data...)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, crc32.Checksum(data, castagnoli))
	if _, err := w.w.Write(w.buf); err != nil {
		return 0, fmt.Errorf("chunks: %w", err)
	}
	w.off += size
	if w.unsynced += size; w.unsynced >= w.syncEvery {
		if err := w.syncStep(); err != nil {
			return 0, fmt.Errorf("chunks: %w", err)
		}
	}
	return ref, nil
}

// syncStep flushes the buffer and fsyncs the current segment.
func (w *SegmentWriter) syncStep() error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	w.unsynced = 0
	if w.syncHook != nil {
		w.syncHook()
	}
	return w.f.Sync()
}

// Close flushes and fsyncs the last segment. The caller fsyncs the
// directory (the block writer does, once, for the whole block).
func (w *SegmentWriter) Close() error { return w.finish() }

// Segments is a read-only view of a directory of segment files, all mapped.
type Segments struct {
	maps  [][]byte // index n-1 is segment n
	bytes int64
}

// OpenSegments maps every segment file of dir. The numbering must be
// 1, 2, … without gaps and every header must be valid.
func OpenSegments(dir string) (*Segments, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	var nums []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || len(e.Name()) != segmentNameWidth || e.IsDir() {
			continue
		}
		nums = append(nums, n)
	}
	sort.Ints(nums)
	s := &Segments{}
	for i, n := range nums {
		if n != i+1 {
			s.Close()
			return nil, fmt.Errorf("%w: segment %s missing", ErrCorrupt, SegmentName(i+1))
		}
		b, err := MapFile(filepath.Join(dir, SegmentName(n)))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.maps = append(s.maps, b)
		s.bytes += int64(len(b))
		if len(b) < SegmentHeader || string(b[:4]) != SegmentMagic || b[4] != segmentVersion {
			s.Close()
			return nil, fmt.Errorf("%w: segment %s: bad header", ErrCorrupt, SegmentName(n))
		}
	}
	return s, nil
}

// Check tells whether ref can point at a chunk: its segment exists and
// its offset leaves room for an entry in it. It reads no chunk data (a
// block's Open checks every reference this way, cheaply; a chunk's bytes
// are checked when Chunk reads them).
func (s *Segments) Check(ref Ref) error {
	n, off := ref.File(), ref.Offset()
	if n < 1 || n > len(s.maps) {
		return fmt.Errorf("%w: chunk ref %d: segment %s missing", ErrCorrupt, ref, SegmentName(n))
	}
	if size := len(s.maps[n-1]); off < SegmentHeader || off+6 > size { // uvarint, ≥ 1 byte, CRC
		return fmt.Errorf("%w: chunk ref %d: offset %d outside segment %s of %d bytes", ErrCorrupt, ref, off, SegmentName(n), size)
	}
	return nil
}

// Chunk returns the bytes of the chunk at ref, checked against its CRC.
// The slice aliases the mapping: valid until Close.
func (s *Segments) Chunk(ref Ref) ([]byte, error) {
	n, off := ref.File(), ref.Offset()
	if n < 1 || n > len(s.maps) {
		return nil, fmt.Errorf("%w: chunk ref %d: no segment %d", ErrCorrupt, ref, n)
	}
	return entryAt(s.maps[n-1], off, SegmentHeader)
}

// entryAt decodes "uvarint n | n bytes | CRC" at off of b.
func entryAt(b []byte, off, minOff int) ([]byte, error) {
	if off < minOff || off >= len(b) {
		return nil, fmt.Errorf("%w: chunk offset %d outside file of %d bytes", ErrCorrupt, off, len(b))
	}
	l, k := binary.Uvarint(b[off:])
	if k <= 0 || l == 0 || l > maxChunkLen || uint64(len(b)-off-k) < l+4 {
		return nil, fmt.Errorf("%w: chunk at offset %d: bad length", ErrCorrupt, off)
	}
	start := off + k
	data := b[start : start+int(l) : start+int(l)]
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(b[start+int(l):]) {
		return nil, fmt.Errorf("%w: chunk at offset %d: checksum mismatch", ErrCorrupt, off)
	}
	return data, nil
}

// Size is the total size of the segment files.
func (s *Segments) Size() int64 { return s.bytes }

// Close unmaps the files. Chunks returned earlier must no longer be used.
func (s *Segments) Close() error {
	var err error
	for _, b := range s.maps {
		if e := unmap(b); e != nil && err == nil {
			err = e
		}
	}
	s.maps = nil
	return err
}
