package tsdb

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage04-wal/wal"
)

// headFileChunk is one record of a head-chunks file as the test reads it,
// by the format in chunks/headchunks.go, independently of that package:
// 8-byte header ("THC6", version), then records of uvarint series ref |
// varint mint | uvarint maxt−mint | uvarint n | n chunk bytes | 4-byte CRC
// (version 2), or series ref | mint | maxt (3 × 8 bytes LE) | uvarint n |
// n chunk bytes | 4-byte CRC, zero bytes ending them (version 1).
type headFileChunk struct{ mint, maxt int64 }

// readHeadFile parses a head-chunks file; it returns the chunks and the
// number of bytes they and the header take (where the records end).
func readHeadFile(t testing.TB, path string) ([]headFileChunk, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 || string(b[:4]) != "THC6" || b[4] != 1 && b[4] != 2 {
		t.Fatalf("%s: bad header", path)
	}
	var out []headFileChunk
	off := 8
	for b[4] == 1 && off+25 <= len(b) {
		n, k := binary.Uvarint(b[off+24:])
		if n == 0 {
			break
		}
		out = append(out, headFileChunk{int64(binary.LittleEndian.Uint64(b[off+8:])), int64(binary.LittleEndian.Uint64(b[off+16:]))})
		off += 24 + k + int(n) + 4
	}
	for b[4] == 2 && off < len(b) {
		p := off
		_, k1 := binary.Uvarint(b[p:])
		p += k1
		mint, k2 := binary.Varint(b[p:])
		p += k2
		width, k3 := binary.Uvarint(b[p:])
		p += k3
		n, k4 := binary.Uvarint(b[p:])
		if k1 <= 0 || k2 <= 0 || k3 <= 0 || k4 <= 0 {
			t.Fatalf("%s: bad record at %d", path, off)
		}
		out = append(out, headFileChunk{mint, mint + int64(width)})
		off = p + k4 + int(n) + 4
	}
	return out, int64(off)
}

// headFilesState is chunks_head as found on disk: per file its length, its
// allocated bytes, where its records end, and its chunks.
type headFilesState struct {
	files     int
	length    int64 // Σ file lengths
	allocated int64 // Σ allocated bytes (du)
	records   int64 // Σ bytes up to the end of the last record
	chunks    []headFileChunk
	maxByFile []int64 // per file, the largest chunk maxt
}

func readHeadFiles(t testing.TB, dir string) headFilesState {
	t.Helper()
	var st headFilesState
	ents, err := os.ReadDir(filepath.Join(dir, HeadChunksDirname))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, HeadChunksDirname, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		cs, end := readHeadFile(t, p)
		st.files++
		st.length += fi.Size()
		st.allocated += measure.DiskBytes(fi)
		st.records += end
		st.chunks = append(st.chunks, cs...)
		m := int64(math.MinInt64)
		for _, c := range cs {
			m = max(m, c.maxt)
		}
		st.maxByFile = append(st.maxByFile, m)
	}
	return st
}

// TestHeadChunksReclaimed: after each compaction, chunks_head holds no
// chunk that lies in a block (so no such file), every file is exactly as long as its
// records (no preallocation: length = header + records, allocation within
// a page per file of that), and the directory does not grow with the
// history: ingesting 12 block ranges leaves about what 3 leave, while the
// chunks ever written grow twelvefold. After a restart every sample is
// still there (the oracle) and the head maps its chunks again.
func TestHeadChunksReclaimed(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.HeadChunkFileSize = 4 << 20 // larger than everything written: only truncation cuts files
	db := openDB(t, dir, opts)
	o := oracle{}
	// 30 s scrapes: a chunk (120 samples) is an hour, so after each
	// compaction the head keeps full chunks in chunks_head.
	const n, step = 20, Minute / 2
	var sizes []int64
	for r := range 12 {
		ingest(t, db, o, n, int64(r)*2*Hour, step, int(2*Hour/step))
		before := readHeadFiles(t, dir)
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		after := readHeadFiles(t, dir)
		var blocksMax int64 = math.MinInt64
		for _, b := range db.Blocks() {
			blocksMax = max(blocksMax, b.MaxTime)
		}
		for i, m := range after.maxByFile {
			if m < blocksMax && m != math.MinInt64 {
				t.Fatalf("round %d: file %d of chunks_head only holds chunks that end before %d (in blocks): maxt %d", r, i, blocksMax, m)
			}
		}
		// Nor any chunk already in a block: a file holds the chunks of
		// one block range and goes with it, so the chunk a series cut
		// after the previous compaction, of the range this one took, is
		// not kept on disk for another range by the live chunks beside it.
		for _, c := range after.chunks {
			if c.maxt < blocksMax {
				t.Fatalf("round %d: chunks_head keeps a chunk [%d, %d] that a block holds (blocks end at %d)", r, c.mint, c.maxt, blocksMax)
			}
		}
		if after.length != after.records {
			t.Fatalf("round %d: chunks_head files are %d bytes long, their records end at %d", r, after.length, after.records)
		}
		if after.allocated > after.records+int64(after.files)*64<<10 {
			t.Fatalf("round %d: chunks_head allocates %d bytes for %d bytes of records", r, after.allocated, after.records)
		}
		if after.files == 0 || len(after.chunks) == 0 {
			t.Fatalf("round %d: no head chunk on disk after compaction: the test needs some", r)
		}
		// From the third compaction on, each removes the file the one
		// before it closed (its chunks are in blocks now).
		if r >= 2 && after.length >= before.length {
			t.Fatalf("round %d: compaction left chunks_head at %d bytes, %d before", r, after.length, before.length)
		}
		sizes = append(sizes, after.length)
	}
	if sizes[11] > sizes[2]*3/2 {
		t.Fatalf("chunks_head grows with history: %d bytes after 3 ranges, %d after 12", sizes[2], sizes[11])
	}
	// More samples, no compaction: the restart maps chunks_head again.
	ingest(t, db, o, n, 24*Hour, step, 30)
	mapped := db.Head().Stats().MappedChunks
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, opts)
	defer db.Close()
	if rec := db.Recovery(); rec.HeadChunksErr != nil || rec.HeadChunks != mapped || mapped == 0 {
		t.Fatalf("restart: %d head chunks re-mapped of %d, error %v", rec.HeadChunks, mapped, rec.HeadChunksErr)
	}
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
}

// TestWALCompressionOption: the head's WAL honours WALCompression (snappy
// and zstd logs are smaller than uncompressed ones of the same samples),
// and a data directory reopened with another setting replays everything
// it had (the oracle), so an operator can switch it on an existing one.
func TestWALCompressionOption(t *testing.T) {
	walBytes := map[wal.Compression]int64{}
	for _, c := range []wal.Compression{wal.CompressionNone, wal.CompressionSnappy, wal.CompressionZstd} {
		dir := t.TempDir()
		opts := testOpts()
		opts.WALCompression = c
		db := openDB(t, dir, opts)
		ingest(t, db, nil, 100, 0, Minute, 60)
		walBytes[c] = db.WALSize()
		db.Close()
	}
	if walBytes[wal.CompressionSnappy] >= walBytes[wal.CompressionNone] || walBytes[wal.CompressionZstd] >= walBytes[wal.CompressionSnappy] {
		t.Fatalf("WAL bytes by compression: %v", walBytes)
	}

	dir := t.TempDir()
	o := oracle{}
	for i, c := range []wal.Compression{wal.CompressionNone, wal.CompressionZstd, wal.CompressionSnappy, wal.CompressionNone} {
		opts := testOpts()
		opts.WALCompression = c
		db := openDB(t, dir, opts)
		ingest(t, db, o, 20, int64(i)*Hour, Minute, 60)
		equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
		if i == 2 {
			if err := db.Compact(); err != nil { // a checkpoint in the mix
				t.Fatal(err)
			}
		}
		db.Close()
	}
	db := openDB(t, dir, testOpts())
	defer db.Close()
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
}
