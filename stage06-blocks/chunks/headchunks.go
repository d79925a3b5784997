package chunks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
)

// A head-chunks file (chunks_head/000001, …) holds the full chunks of the
// head, so that head memory keeps only each series' open chunk:
//
//	header  4 bytes magic "THC6" | 1 byte version (2) | 3 zero bytes
//	record  uvarint series ref | varint mint | uvarint maxt−mint
//	        | uvarint n | n bytes: the chunk (encoding.go) | uint32 LE CRC-32C of everything from the series ref on
//	record  …
//
// Version 1 files (still read) had the series ref, mint and maxt as three
// fixed 8-byte fields: 24 bytes a record where version 2 takes 9 to 11 for
// a million series at today's millisecond times, 5 % of a chunk of 120
// samples (about 250 bytes) saved.
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
// file, or zero bytes up to it (a file extended but not written when the
// machine stopped; in version 1, a record header of zeros with length 0:
// files of that version were created at their full size, zero-filled),
// ends the records.
//
// Reclaiming: a head truncated at mint calls Truncate(mint), which lists
// the files whose chunks all end before mint (their chunks are in blocks
// now). With a file span set (SetFileSpan: the head's block range), a
// chunk goes to the file of the span its maxt falls in, so a file holds
// the chunks of one block range and goes as a whole when the head is
// truncated past that range: the chunk a series cuts just after a
// truncation, still of the range the next block will take, does not keep
// a file of live chunks on disk for another block range. Files being
// written (one per span, at most maxOpenFiles) are closed for writing when
// the head is truncated past their span. Without a span there is one file
// being written, closed at each truncation if it holds a chunk. So
// chunks_head holds the chunks of the head, never its history.
const (
	HeadMagic           = "THC6"
	headVersion         = 2
	headVersion1        = 1
	headRecordHeader1   = 24 // version 1: series ref, mint, maxt, 8 bytes each
	DefaultHeadFileSize = 128 << 20
	// maxOpenFiles bounds the files being written at once (one per span):
	// a head fills the newest span or two; a chunk of an older span (an
	// import of old data) past the bound closes the file of the oldest.
	maxOpenFiles = 4
)

// ErrHeadFileFull is returned for a chunk larger than a whole head file.
var ErrHeadFileFull = errors.New("chunks: chunk larger than a head-chunks file")

// ErrHeadChunkRange is returned for a chunk whose maxt is before its mint
// (a record stores maxt as its distance from mint).
var ErrHeadChunkRange = errors.New("chunks: head chunk ends before it starts")

type headFile struct {
	n    int
	ver  byte // the record format
	f    *os.File
	data []byte // the mapping, the whole file
	// size is the bytes written (the write offset), stored by the writer
	// under mu after each record and loaded by readers without it.
	size atomic.Int64
	maxT int64 // largest maxt of its chunks
}

// fileTable is what readers look a chunk's file up in without a lock:
// files[n-base] is file n (nil if removed). A new table is published
// whenever the set of files changes (a file cut, removed or closed), a few
// times per block range, so Chunk, called for every full chunk a query
// reads, takes no lock: under a read lock, readers on different cores
// all wrote the same lock word and waited on each other for it.
type fileTable struct {
	base  int
	files []*headFile
}

// HeadChunks is the set of head-chunks files of a head. Writes and reads
// are safe for concurrent use.
type HeadChunks struct {
	dir      string
	fileSize int

	mu    sync.RWMutex // guards files and open; a file's size is written under mu
	files map[int]*headFile
	table atomic.Pointer[fileTable] // files, for Chunk
	// open holds the files being written, by span (spanOf of a chunk's
	// maxt); one at most when span is 0.
	open map[int64]*headFile
	span int64 // file span in ms; 0: one file being written
	next int
	buf  []byte
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
	h := &HeadChunks{dir: dir, fileSize: fileSize, files: map[int]*headFile{}, open: map[int64]*headFile{}, next: 1}
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
	h.publish()
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
	if len(b) < SegmentHeader || string(b[:4]) != HeadMagic || b[4] != headVersion && b[4] != headVersion1 {
		hf.size.Store(int64(len(b)))
		return fmt.Errorf("%w: head chunks %s: bad header", ErrCorrupt, SegmentName(hf.n))
	}
	hf.ver = b[4]
	off := SegmentHeader
	for {
		rec, _, next, err := headRecordAt(b, off, hf.ver)
		if err != nil {
			hf.size.Store(int64(len(b))) // never written to again anyway
			return fmt.Errorf("head chunks %s: %w", SegmentName(hf.n), err)
		}
		if next == 0 {
			hf.size.Store(int64(off))
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

// headRecordAt decodes the record at off of a file of version ver: the
// record, where its chunk starts and where the next record starts (the
// chunk ends 4 bytes, its CRC, before). next == 0 means the end: no byte
// left, or zero bytes up to the end (version 1: a zero header of length 0,
// or not enough room for a record).
func headRecordAt(b []byte, off int, ver byte) (rec HeadRecord, start, next int, err error) {
	if ver == headVersion1 {
		return headRecordAt1(b, off)
	}
	if off >= len(b) || allZero(b[off:]) {
		return HeadRecord{}, 0, 0, nil
	}
	p := off
	series, k := binary.Uvarint(b[p:])
	p += max(k, 0)
	mint, k2 := binary.Varint(b[p:])
	p += max(k2, 0)
	width, k3 := binary.Uvarint(b[p:])
	p += max(k3, 0)
	l, k4 := binary.Uvarint(b[p:])
	p += max(k4, 0)
	if k <= 0 || k2 <= 0 || k3 <= 0 || k4 <= 0 || l > maxChunkLen || p+int(l)+4 > len(b) {
		return HeadRecord{}, 0, 0, fmt.Errorf("%w: offset %d: bad record header", ErrCorrupt, off)
	}
	end := p + int(l)
	if crc32.Checksum(b[off:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return HeadRecord{}, 0, 0, fmt.Errorf("%w: offset %d: checksum mismatch", ErrCorrupt, off)
	}
	return HeadRecord{
		Ref:    Ref(0).WithEncoding(EncodingOf(b[p:end])),
		Series: series,
		MinT:   mint,
		MaxT:   mint + int64(width), // the width of [MinInt64, MaxInt64] wraps back exactly
	}, p, end + 4, nil
}

// headRecordAt1 is headRecordAt for a version 1 file.
func headRecordAt1(b []byte, off int) (HeadRecord, int, int, error) {
	if off+headRecordHeader1+1 > len(b) {
		return HeadRecord{}, 0, 0, nil
	}
	l, k := binary.Uvarint(b[off+headRecordHeader1:])
	if k == 1 && l == 0 {
		if !allZero(b[off : off+headRecordHeader1]) {
			return HeadRecord{}, 0, 0, fmt.Errorf("%w: offset %d: record of length 0", ErrCorrupt, off)
		}
		return HeadRecord{}, 0, 0, nil
	}
	start := off + headRecordHeader1 + k
	end := start + int(l)
	if k <= 0 || l > maxChunkLen || end+4 > len(b) {
		return HeadRecord{}, 0, 0, fmt.Errorf("%w: offset %d: bad length", ErrCorrupt, off)
	}
	if crc32.Checksum(b[off:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return HeadRecord{}, 0, 0, fmt.Errorf("%w: offset %d: checksum mismatch", ErrCorrupt, off)
	}
	return HeadRecord{
		Ref:    Ref(0).WithEncoding(EncodingOf(b[start:end])),
		Series: binary.LittleEndian.Uint64(b[off:]),
		MinT:   int64(binary.LittleEndian.Uint64(b[off+8:])),
		MaxT:   int64(binary.LittleEndian.Uint64(b[off+16:])),
	}, start, end + 4, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// SetFileSpan makes chunks whose maxt fall in different spans of span ms
// (multiples of span from 0) go to different files; span ≤ 0 puts them in
// one file at a time. A head sets its block range, so that a file holds the
// chunks of one block range.
func (h *HeadChunks) SetFileSpan(span int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.span = max(span, 0)
	clear(h.open) // the next chunk of each span starts a file
}

// spanOf is the key of the file a chunk ending at maxt goes to.
func (h *HeadChunks) spanOf(maxt int64) int64 {
	if h.span == 0 {
		return 0
	}
	k := maxt / h.span
	if maxt%h.span < 0 {
		k-- // floor: spans of negative times too
	}
	return k
}

// isOpen says whether hf is being written. Called with mu held.
func (h *HeadChunks) isOpen(hf *headFile) bool {
	for _, o := range h.open {
		if o == hf {
			return true
		}
	}
	return false
}

// cut starts a new file, its header only, for the chunks of span key.
// Called with mu held.
func (h *HeadChunks) cut(key int64) (*headFile, error) {
	if _, ok := h.open[key]; !ok && len(h.open) >= maxOpenFiles {
		oldest := int64(math.MaxInt64)
		for k := range h.open {
			oldest = min(oldest, k)
		}
		delete(h.open, oldest)
	}
	n := h.next
	path := filepath.Join(h.dir, SegmentName(n))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	hdr := [SegmentHeader]byte{'T', 'H', 'C', '6', headVersion}
	if _, err := f.Write(hdr[:]); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("chunks: %w", err)
	}
	data, err := mapFile(f, h.fileSize)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	hf := &headFile{n: n, ver: headVersion, f: f, data: data, maxT: math.MinInt64}
	hf.size.Store(SegmentHeader)
	h.files[n] = hf
	h.open[key] = hf
	h.next = n + 1
	h.publish()
	return hf, nil
}

// Write stores a full chunk of series and returns its reference.
func (h *HeadChunks) Write(series uint64, mint, maxt int64, data []byte) (Ref, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if maxt < mint {
		return 0, fmt.Errorf("%w: [%d, %d]", ErrHeadChunkRange, mint, maxt)
	}
	b := h.buf[:0]
	b = binary.AppendUvarint(b, series)
	b = binary.AppendVarint(b, mint)
	b = binary.AppendUvarint(b, uint64(maxt)-uint64(mint))
	b = binary.AppendUvarint(b, uint64(len(data)))
	b = append(b, data...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	h.buf = b
	if len(b)+SegmentHeader > h.fileSize {
		return 0, ErrHeadFileFull
	}
	key := h.spanOf(maxt)
	hf := h.open[key]
	if hf == nil || int(hf.size.Load())+len(b) > h.fileSize {
		var err error
		if hf, err = h.cut(key); err != nil {
			return 0, err
		}
	}
	off := int(hf.size.Load())
	if _, err := hf.f.WriteAt(b, int64(off)); err != nil {
		return 0, fmt.Errorf("chunks: head chunk write: %w", err)
	}
	hf.size.Store(int64(off + len(b))) // after the bytes: a reader that sees the size sees the record
	hf.maxT = max(hf.maxT, maxt)
	return NewRef(hf.n, off).WithEncoding(EncodingOf(data)), nil
}

// Chunk returns the chunk bytes at ref. The slice aliases the mapping:
// valid until the file is removed. It takes no lock (see fileTable).
func (h *HeadChunks) Chunk(ref Ref) ([]byte, error) {
	var hf *headFile
	if t := h.table.Load(); t != nil {
		if i := ref.File() - t.base; i >= 0 && i < len(t.files) {
			hf = t.files[i]
		}
	}
	if hf == nil {
		return nil, fmt.Errorf("%w: head chunk ref %d: no file %d", ErrCorrupt, ref, ref.File())
	}
	b := hf.data[:hf.size.Load()]
	start, end, err := chunkAt(b, ref.Offset(), hf.ver)
	if err != nil {
		return nil, fmt.Errorf("head chunk ref %d: %w", ref, err)
	}
	return b[start:end:end], nil
}

// chunkAt is where the chunk of the record at off starts and ends, its CRC
// checked: what Chunk needs of a record, which headRecordAt also decodes.
// A version 2 record's series ref, mint and width are skipped, not
// decoded: a varint ends at its first byte below 0x80, found in one 8-byte
// word (decoding them was a quarter of a lookup). It accepts what
// headRecordAt accepts and reads the same chunk (FuzzHeadRecords).
func chunkAt(b []byte, off int, ver byte) (start, end int, err error) {
	if ver == headVersion1 {
		_, start, next, err := headRecordAt1(b, off)
		if err == nil && next == 0 {
			err = fmt.Errorf("%w: offset %d: no record", ErrCorrupt, off)
		}
		return start, next - 4, err
	}
	p := off
	for range 3 {
		if p = skipVarint(b, p); p < 0 {
			return 0, 0, fmt.Errorf("%w: offset %d: bad record header", ErrCorrupt, off)
		}
	}
	l, k := binary.Uvarint(b[p:])
	if k <= 0 || l > maxChunkLen || p+k+int(l)+4 > len(b) {
		return 0, 0, fmt.Errorf("%w: offset %d: bad record header", ErrCorrupt, off)
	}
	start, end = p+k, p+k+int(l)
	if crc32.Checksum(b[off:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return 0, 0, fmt.Errorf("%w: offset %d: checksum mismatch", ErrCorrupt, off)
	}
	return start, end, nil
}

// skipVarint returns where the varint at p ends, or -1 if none does
// within binary.MaxVarintLen64 bytes of b.
func skipVarint(b []byte, p int) int {
	if p >= 0 && p+8 <= len(b) {
		// The bytes with their top bit clear, as top bits of m: the
		// lowest is the varint's last byte.
		if m := ^binary.LittleEndian.Uint64(b[p:]) & 0x8080808080808080; m != 0 {
			return p + bits.TrailingZeros64(m)/8 + 1
		}
	}
	for i := p; i >= 0 && i < len(b) && i < p+binary.MaxVarintLen64; i++ {
		if b[i] < 0x80 {
			return i + 1
		}
	}
	return -1
}

// FilesBefore lists the files, other than those being written, whose
// chunks all end before mint: the files a head truncated at mint no longer
// needs.
func (h *HeadChunks) FilesBefore(mint int64) []int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.filesBeforeLocked(mint)
}

// Truncate is what a head truncated at mint calls: it stops writing to the
// files no later chunk belongs in, and returns FilesBefore(mint). With a
// span, those are the files of spans that end at or before mint (the head
// takes no sample before mint any more); without one, the file being
// written if it holds any chunk (the next Write cuts a new one), so that
// the file can be removed by a later truncation: without the cut, it would
// keep every chunk of the head's history until it filled up (128 MiB).
func (h *HeadChunks) Truncate(mint int64) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, hf := range h.open {
		if h.span == 0 && hf.size.Load() > SegmentHeader || h.span > 0 && k < h.spanOf(mint) {
			delete(h.open, k)
		}
	}
	return h.filesBeforeLocked(mint)
}

func (h *HeadChunks) filesBeforeLocked(mint int64) []int {
	var out []int
	for n, hf := range h.files {
		if hf.maxT < mint && !h.isOpen(hf) {
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
		if hf == nil || h.isOpen(hf) {
			continue
		}
		delete(h.files, n)
		h.publish() // before the unmapping: no new lookup finds the file
		if e := hf.close(); e != nil && err == nil {
			err = e
		}
		if e := os.Remove(filepath.Join(h.dir, SegmentName(n))); e != nil && err == nil {
			err = fmt.Errorf("chunks: %w", e)
		}
	}
	return err
}

// publish makes the files, as they are now, the table Chunk looks them up
// in. Called with mu held.
func (h *HeadChunks) publish() {
	t := &fileTable{}
	if len(h.files) > 0 {
		lo, hi := math.MaxInt, math.MinInt
		for n := range h.files {
			lo, hi = min(lo, n), max(hi, n)
		}
		t.base, t.files = lo, make([]*headFile, hi-lo+1)
		for n, hf := range h.files {
			t.files[n-lo] = hf
		}
	}
	h.table.Store(t)
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
		n += hf.size.Load()
	}
	return n
}

// Close unmaps and closes every file.
func (h *HeadChunks) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	files := make([]*headFile, 0, len(h.files))
	for _, hf := range h.files {
		files = append(files, hf)
	}
	clear(h.files)
	h.publish()
	var err error
	for _, hf := range files {
		if e := hf.close(); e != nil && err == nil {
			err = e
		}
	}
	clear(h.open)
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
	clear(h.open)
	h.mu.Unlock()
	return h.RemoveFiles(nums)
}
