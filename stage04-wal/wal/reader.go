package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// SegmentStats is what replay found in one file of the log.
type SegmentStats struct {
	Name       string // 00000003 or checkpoint.00000002
	Index      int
	Checkpoint bool
	Records    int   // valid records read
	Bytes      int64 // bytes of valid frames
	// Compressed is how many of the records were stored compressed;
	// RecordBytes the size of the records as logged (decompressed, no
	// frame headers), so Bytes/RecordBytes is what compression kept.
	Compressed  int
	RecordBytes int64
	Corrupt     int // damaged frames met (replay stops at the first)
	// TornTail: the damage is a torn write at the end of the last segment
	// (no intact record follows it). Replay ends there without an error;
	// the bytes from TailOffset on are what Open or Repair truncate.
	TornTail   bool
	TailOffset int64
	TailBytes  int64 // bytes from TailOffset to the end of the file
	TailReason string
}

// Reader replays a WAL directory: the newest checkpoint, then every segment
// after it, record by record in log order.
//
//	r, err := wal.NewReader(dir)
//	for r.Next() { apply(r.Record()) }
//	err = r.Err()
//
// Damage at the tail of the last segment (a torn write) ends the replay
// cleanly and is reported in Stats; damage anywhere else stops it with a
// *CorruptionError (errors.Is(err, ErrCorrupt)) naming segment and offset,
// and Repair can cut the log there. The reader never modifies the files.
type Reader struct {
	files  []logFile
	next   int // index into files of the file to open next
	cur    *fileScanner
	buf    []byte // shared read buffer, reused across files
	dec    []byte // decompressed record, reused
	stats  []SegmentStats
	err    error
	rec    []byte
	recAt  int64
	noTail bool // no file may end in a torn tail (checkpoint input)
}

// NewReader returns a reader over the live part of the log in dir.
func NewReader(dir string) (*Reader, error) {
	c, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	files, err := c.liveFiles(dir)
	if err != nil {
		return nil, err
	}
	// After a clean Close the last segment is whole: damage at its end
	// is not a crash's torn write.
	return newReader(files, c.closed == nil), nil
}

// newReader reads files in order; tailRule allows a torn tail in the last
// file when that file is a segment (checkpoints are fsynced before they are
// renamed into place, so a torn checkpoint is always corruption).
//
// The 1 MiB read buffer comes with the first read (fileScanner.fill): opening
// an empty WAL, as every new database does, allocates none.
func newReader(files []logFile, tailRule bool) *Reader {
	return &Reader{files: files, noTail: !tailRule}
}

// Next advances to the next record. It returns false at the end of the log
// or on an error (see Err).
func (r *Reader) Next() bool {
	for r.err == nil {
		if r.cur == nil {
			if r.next == len(r.files) {
				return false
			}
			f := r.files[r.next]
			last := r.next == len(r.files)-1 && !f.checkpoint && !r.noTail
			r.next++
			r.stats = append(r.stats, SegmentStats{Name: f.name(), Index: f.index, Checkpoint: f.checkpoint})
			sc, err := openScanner(f, last, r.buf)
			if err != nil {
				r.err = err
				return false
			}
			r.cur = sc
		}
		st := &r.stats[len(r.stats)-1]
		if r.cur.next() {
			stored := r.cur.rec
			r.recAt = r.cur.recAt
			st.Records++
			st.Bytes += int64(len(stored) + frameHeaderSize)
			if compressed(stored) {
				st.Compressed++
				var err error
				if r.rec, r.dec, err = decompress(stored, r.dec); err != nil {
					if isDecompressErr(err) {
						err = &CorruptionError{Segment: r.cur.file.index, Checkpoint: r.cur.file.checkpoint, Offset: r.recAt, Reason: err.Error()}
					}
					st.Records--
					st.Corrupt++
					r.err = err
					r.rec = nil
					return false
				}
			} else {
				r.rec = stored
			}
			st.RecordBytes += int64(len(r.rec))
			return true
		}
		r.buf = r.cur.buf
		if d := r.cur.damage; d != nil {
			st.Corrupt++
			if d.tail {
				st.TornTail, st.TailOffset, st.TailBytes, st.TailReason = true, d.offset, d.bytes, d.reason
			} else {
				r.err = &CorruptionError{Segment: r.cur.file.index, Checkpoint: r.cur.file.checkpoint, Offset: d.offset, Reason: d.reason}
			}
		}
		if err := r.cur.close(); err != nil && r.err == nil {
			r.err = err
		}
		r.cur = nil
	}
	return false
}

// Record is the current record (type byte + payload) as it was logged,
// decompressed if it was stored compressed. It aliases the reader's
// buffers: valid until the next call to Next.
func (r *Reader) Record() []byte { return r.rec }

// Position is where the current record's frame starts.
func (r *Reader) Position() (segment int, checkpoint bool, offset int64) {
	if len(r.stats) == 0 {
		return 0, false, 0
	}
	st := r.stats[len(r.stats)-1]
	return st.Index, st.Checkpoint, r.recAt
}

// Err is the error that stopped the replay, nil at a clean end.
func (r *Reader) Err() error { return r.err }

// Stats is one entry per file opened so far, in log order.
func (r *Reader) Stats() []SegmentStats { return r.stats }

// Close releases the open file, if any.
func (r *Reader) Close() error {
	if r.cur != nil {
		err := r.cur.close()
		r.cur = nil
		return err
	}
	return nil
}

// damage describes the first bad frame of a file.
type damage struct {
	offset int64
	bytes  int64 // from offset to end of file
	reason string
	tail   bool
}

// fileScanner reads the frames of one file through a buffer that holds at
// least one whole frame; records alias the buffer.
type fileScanner struct {
	file   logFile
	f      *os.File
	size   int64
	last   bool // last segment of the log: the tail rule applies
	buf    []byte
	r      int   // buf[r:] is unread
	off    int64 // file offset of buf[r]
	read   int64 // file bytes read into buf so far
	rec    []byte
	recAt  int64
	damage *damage
	err    error
}

func openScanner(lf logFile, last bool, buf []byte) (*fileScanner, error) {
	f, err := os.Open(lf.path)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", lf.name(), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: stat %s: %w", lf.name(), err)
	}
	return &fileScanner{file: lf, f: f, size: fi.Size(), last: last, buf: buf[:0]}, nil
}

// next reads the next valid frame. At the end of the file or at damage it
// returns false; damage is then set (or err for an I/O error).
func (s *fileScanner) next() bool {
	for {
		rec, size, st := parseFrame(s.buf[s.r:])
		if st == frameOK {
			s.rec, s.recAt = rec, s.off
			s.r += size
			s.off += int64(size)
			return true
		}
		if st == frameShort && s.read < s.size && (size == 0 || s.off+int64(size) <= s.size) {
			if err := s.fill(size); err != nil {
				s.err = err
				return false
			}
			continue
		}
		if st == frameShort && size == 0 && s.off == s.size {
			return false // clean end of file
		}
		s.setDamage(st)
		return false
	}
}

// fill reads more of the file, keeping the unread bytes and growing the
// buffer to hold a frame of size need.
func (s *fileScanner) fill(need int) error {
	unread := len(s.buf) - s.r
	want := max(need, 1<<20)
	if cap(s.buf) < want {
		nb := make([]byte, unread, want)
		copy(nb, s.buf[s.r:])
		s.buf = nb
	} else {
		copy(s.buf[:unread], s.buf[s.r:])
		s.buf = s.buf[:unread]
	}
	s.r = 0
	n, err := io.ReadFull(s.f, s.buf[unread:cap(s.buf)][:min(int64(cap(s.buf)-unread), s.size-s.read)])
	s.buf = s.buf[:unread+n]
	s.read += int64(n)
	if err != nil {
		return fmt.Errorf("wal: read %s: %w", s.file.name(), err)
	}
	return nil
}

// setDamage records the bad frame at s.off and decides whether it is a torn
// tail: only in the last segment, and only if no intact record follows
// (resync).
func (s *fileScanner) setDamage(st frameStatus) {
	d := &damage{offset: s.off, bytes: s.size - s.off, reason: st.String()}
	s.damage = d
	if !s.last {
		return
	}
	rest := make([]byte, s.size-s.off)
	if _, err := s.f.ReadAt(rest, s.off); err != nil && !errors.Is(err, io.EOF) {
		s.err = fmt.Errorf("wal: read %s: %w", s.file.name(), err)
		return
	}
	if at, ok := resync(rest, 1); ok {
		d.reason += fmt.Sprintf(" (an intact record follows at offset %d)", s.off+int64(at))
		return
	}
	d.tail = true
}

func (s *fileScanner) close() error {
	if s.err != nil {
		s.f.Close()
		return s.err
	}
	return s.f.Close()
}
