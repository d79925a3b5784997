package chunks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
)

// A head-chunks file (chunks_head/000001, …) holds the full chunks of the
// head, so that head memory keeps only each series' open chunk:
//
//	header  4 bytes magic "THC6" | 1 byte version (1) | 3 zero bytes
//	record  uint64 LE series ref | int64 LE mint | int64 LE maxt
//	        | uvarint n | n bytes: the chunk (encoding.go) | uint32 LE CRC-32C of everything from the series ref on
//	record  …
//
// A file is as long as what it holds: it is created with its header only
// and grows by each record, up to fileSize (128 MiB by default), after which
// the next file is cut. It is mapped once, shared, for fileSize bytes from
// the start: records are written with pwrite and read through the mapping,
// which sees them at once (one page cache); only bytes below the written
// size are ever read, so the part of the mapping past the end of the file is
// never touched. There is no fsync: the WAL is the durable copy of every
// sample in these files, and a record damaged by a power cut fails its CRC,
// so recovery ignores the files and replays the WAL instead. The end of the
// file, or a record with length 0 (files of older versions were created at
// their full size, zero-filled), ends the records.
//
// Reclaiming: a head truncated at mint calls Truncate(mint), which closes
// the file being written (if it holds a chunk) so that it, too, can go once
// all its chunks are older than a later truncation, and lists the files
// whose chunks all end before mint (their chunks are in blocks now). So
// chunks_head holds about the chunks of the last two block ranges, never
// the history of the head.
const (
	HeadMagic           = "THC6"
	headVersion         = 1
	headRecordHeader    = 24
	DefaultHeadFileSize = 128 << 20
)

// ErrHeadFileFull is returned for a chunk larger than a whole head file.
var ErrHeadFileFull = errors.New("chunks: chunk larger than a head-chunks file")

type headFile struct {
	n    int
	f    *os.File
	data []byte // the mapping, the whole file
	size int    // bytes written (write offset)
	maxT int64  // largest maxt of its chunks
}

// HeadChunks is the set of head-chunks files of a head. Writes and reads
// are safe for concurrent use.
type HeadChunks struct {
	dir      string
	fileSize int

	mu    sync.RWMutex // guards files and cur; cur.size is written under mu
	files map[int]*headFile
	cur   *headFile
	next  int
	buf   []byte
}

// HeadRecord is one chunk found when a head-chunks directory is opened.
type HeadRecord struct {
	Series     uint64
	Ref        Ref
	MinT, MaxT int64
}

// OpenHeadChunks opens (creating if needed) the head-chunks directory and
// maps the existing files; fn, if not nil, is called for every valid record
// in file order. Scanning a file stops at the first record of length 0 (the
// end); a record that is not zero but fails its checksum is reported as an
// error wrapping ErrCorrupt, after which the caller should RemoveAll and
// rebuild the head from the WAL. fileSize ≤ 0 means DefaultHeadFileSize.
// New chunks always go to a new file: a file written before a crash is
// never appended to.
func OpenHeadChunks(dir string, fileSize int, fn func(HeadRecord)) (*HeadChunks, error) {
	if fileSize <= 0 {
		fileSize = DefaultHeadFileSize
	}
	if fileSize > math.MaxUint32 {
		fileSize = math.MaxUint32
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	h := &HeadChunks{dir: dir, fileSize: fileSize, files: map[int]*headFile{}, next: 1}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	var nums []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && len(e.Name()) == segmentNameWidth {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	var scanErr error
	for _, n := range nums {
		hf, err := h.openFile(n)
		if err != nil {
			h.Close()
			return nil, err
		}
		h.files[n] = hf
		h.next = n + 1
		if err := hf.scan(fn); err != nil && scanErr == nil {
			scanErr = err
		}
	}
	if scanErr != nil {
		return h, scanErr
	}
	return h, nil
}

func (h *HeadChunks) openFile(n int) (*headFile, error) {
	f, err := os.OpenFile(filepath.Join(h.dir, SegmentName(n)), os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("chunks: %w", err)
	}
	data, err := mapFile(f, int(fi.Size()))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &headFile{n: n, f: f, data: data, maxT: math.MinInt64}, nil
}

// scan walks the records of a file opened at startup.
func (hf *headFile) scan(fn func(HeadRecord)) error {
	b := hf.data
	if len(b) < SegmentHeader || string(b[:4]) != HeadMagic || b[4] != headVersion {
		hf.size = len(b)
		return fmt.Errorf("%w: head chunks %s: bad header", ErrCorrupt, SegmentName(hf.n))
	}
	off := SegmentHeader
	for {
		rec, next, err := headRecordAt(b, off)
		if err != nil {
			hf.size = len(b) // never written to again anyway
			return fmt.Errorf("head chunks %s: %w", SegmentName(hf.n), err)
		}
		if next == 0 {
			hf.size = off
			return nil
		}
		rec.Ref = NewRef(hf.n, off).WithEncoding(rec.Ref.Encoding())
		hf.maxT = max(hf.maxT, rec.MaxT)
		if fn != nil {
			fn(rec)
		}
		off = next
	}
}

// headRecordAt decodes the record at off. next == 0 means the end (a zero
// length or not enough room for a record).
func headRecordAt(b []byte, off int) (HeadRecord, int, error) {
	if off+headRecordHeader+1 > len(b) {
		return HeadRecord{}, 0, nil
	}
	l, k := binary.Uvarint(b[off+headRecordHeader:])
	if k == 1 && l == 0 {
		for _, c := range b[off : off+headRecordHeader] {
			if c != 0 {
				return HeadRecord{}, 0, fmt.Errorf("%w: offset %d: record of length 0", ErrCorrupt, off)
			}
		}
		return HeadRecord{}, 0, nil
	}
	end := off + headRecordHeader + k + int(l)
	if k <= 0 || l > maxChunkLen || end+4 > len(b) {
		return HeadRecord{}, 0, fmt.Errorf("%w: offset %d: bad length", ErrCorrupt, off)
	}
	if crc32.Checksum(b[off:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return HeadRecord{}, 0, fmt.Errorf("%w: offset %d: checksum mismatch", ErrCorrupt, off)
	}
	return HeadRecord{
		Ref:    Ref(0).WithEncoding(EncodingOf(b[off+headRecordHeader+k : end])),
		Series: binary.LittleEndian.Uint64(b[off:]),
		MinT:   int64(binary.LittleEndian.Uint64(b[off+8:])),
		MaxT:   int64(binary.LittleEndian.Uint64(b[off+16:])),
	}, end + 4, nil
}

// cut starts a new file, its header only. Called with mu held.
func (h *HeadChunks) cut() error {
	n := h.next
	path := filepath.Join(h.dir, SegmentName(n))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("chunks: %w", err)
	}
	hdr := [SegmentHeader]byte{'T', 'H', 'C', '6', headVersion}
	if _, err := f.Write(hdr[:]); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("chunks: %w", err)
	}
	data, err := mapFile(f, h.fileSize)
	if err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	hf := &headFile{n: n, f: f, data: data, size: SegmentHeader, maxT: math.MinInt64}
	h.files[n] = hf
	h.cur = hf
	h.next = n + 1
	return nil
}

// Write stores a full chunk of series and returns its reference.
func (h *HeadChunks) Write(series uint64, mint, maxt int64, data []byte) (Ref, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.buf[:0]
	b = binary.LittleEndian.AppendUint64(b, series)
	b = binary.LittleEndian.AppendUint64(b, uint64(mint))
	b = binary.LittleEndian.AppendUint64(b, uint64(maxt))
	b = binary.AppendUvarint(b, uint64(len(data)))
	b = append(b, data...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	h.buf = b
	if len(b)+SegmentHeader > h.fileSize {
		return 0, ErrHeadFileFull
	}
	if h.cur == nil || h.cur.size+len(b) > h.fileSize {
		if err := h.cut(); err != nil {
			return 0, err
		}
	}
	off := h.cur.size
	if _, err := h.cur.f.WriteAt(b, int64(off)); err != nil {
		return 0, fmt.Errorf("chunks: head chunk write: %w", err)
	}
	h.cur.size += len(b)
	h.cur.maxT = max(h.cur.maxT, maxt)
	return NewRef(h.cur.n, off).WithEncoding(EncodingOf(data)), nil
}

// Chunk returns the chunk bytes at ref. The slice aliases the mapping:
// valid until the file is removed.
func (h *HeadChunks) Chunk(ref Ref) ([]byte, error) {
	h.mu.RLock()
	hf := h.files[ref.File()]
	var size int
	if hf != nil {
		size = hf.size
	}
	h.mu.RUnlock()
	if hf == nil {
		return nil, fmt.Errorf("%w: head chunk ref %d: no file %d", ErrCorrupt, ref, ref.File())
	}
	rec, next, err := headRecordAt(hf.data[:size], ref.Offset())
	_ = rec
	if err != nil {
		return nil, err
	}
	if next == 0 {
		return nil, fmt.Errorf("%w: head chunk ref %d: no record", ErrCorrupt, ref)
	}
	off := ref.Offset() + headRecordHeader
	_, k := binary.Uvarint(hf.data[off:])
	return hf.data[off+k : next-4 : next-4], nil
}

// FilesBefore lists the files, other than the one being written, whose
// chunks all end before mint: the files a head truncated at mint no longer
// needs.
func (h *HeadChunks) FilesBefore(mint int64) []int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.filesBeforeLocked(mint)
}

// Truncate is what a head truncated at mint calls: it stops writing to the
// current file if that holds any chunk (the next Write cuts a new one), so
// that the file can be removed by this or a later truncation, and returns
// FilesBefore(mint). Without the cut, the file being written would keep
// every chunk of the head's history until it filled up (128 MiB).
func (h *HeadChunks) Truncate(mint int64) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur != nil && h.cur.size > SegmentHeader {
		h.cur = nil
	}
	return h.filesBeforeLocked(mint)
}

func (h *HeadChunks) filesBeforeLocked(mint int64) []int {
	var out []int
	for n, hf := range h.files {
		if hf != h.cur && hf.maxT < mint {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// RemoveFiles unmaps and deletes files. The caller guarantees no reader
// still uses a chunk of theirs.
func (h *HeadChunks) RemoveFiles(nums []int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var err error
	for _, n := range nums {
		hf := h.files[n]
		if hf == nil || hf == h.cur {
			continue
		}
		delete(h.files, n)
		if e := hf.close(); e != nil && err == nil {
			err = e
		}
		if e := os.Remove(filepath.Join(h.dir, SegmentName(n))); e != nil && err == nil {
			err = fmt.Errorf("chunks: %w", e)
		}
	}
	return err
}

func (hf *headFile) close() error {
	err := unmap(hf.data)
	if e := hf.f.Close(); err == nil {
		err = e
	}
	return err
}

// Size is the bytes written to all files: their length on disk.
func (h *HeadChunks) Size() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var n int64
	for _, hf := range h.files {
		n += int64(hf.size)
	}
	return n
}

// Close unmaps and closes every file.
func (h *HeadChunks) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var err error
	for n, hf := range h.files {
		if e := hf.close(); e != nil && err == nil {
			err = e
		}
		delete(h.files, n)
	}
	h.cur = nil
	return err
}

// RemoveAll closes the files and deletes them: the recovery path when a
// file is damaged and the WAL has to rebuild the head instead.
func (h *HeadChunks) RemoveAll() error {
	h.mu.Lock()
	nums := make([]int, 0, len(h.files))
	for n := range h.files {
		nums = append(nums, n)
	}
	h.cur = nil
	h.mu.Unlock()
	return h.RemoveFiles(nums)
}
