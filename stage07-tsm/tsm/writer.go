package tsm

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
	"github.com/tsdb-course/stage04-wal/wal"
)

// writer streams a TSM file: keys must come in ascending byte order, each
// key's values sorted by time. Blocks go straight to disk; the index (a few
// dozen bytes per block) is kept in memory and written by Close.
//
// The file is written as path+".tmp" and renamed into place by Close after
// an fsync, so a crash never leaves a half-written file under the final
// name. (Making it *visible* is the manifest's job: see manifest.go.)
type writer struct {
	path    string
	f       *os.File
	bw      *bufio.Writer
	off     uint64
	index   []byte
	offsets []uint32
	hashes  []uint64 // key hashes, for the bloom filter sized at Close
	lastKey []byte
	block   []byte
	chunk   Values
	stats   FileStats
	err     error
}

// FileStats describe a written file.
type FileStats struct {
	Path             string
	Level            int
	Keys             int
	Blocks           int
	Values           int
	Size             int64
	IndexBytes       int
	BloomBytes       int
	MinTime, MaxTime int64
}

// newWriter creates path+".tmp" for a file of the given level.
func newWriter(path string, level int) (*writer, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, fmt.Errorf("tsm: %w", err)
	}
	w := &writer{path: path, f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	w.stats.Path, w.stats.Level = path, level
	w.stats.MinTime, w.stats.MaxTime = 1<<63-1, -1<<63
	hdr := []byte(fileMagic)
	hdr = append(hdr, fileVersion, byte(level))
	w.write(hdr)
	return w, w.err
}

func (w *writer) write(b []byte) {
	if w.err != nil {
		return
	}
	_, w.err = w.bw.Write(b)
	w.off += uint64(len(b))
}

// writeKey writes all values of key (sorted by time, deduplicated) as blocks
// of up to MaxPointsPerBlock.
func (w *writer) writeKey(key []byte, v *Values) error {
	if w.err != nil {
		return w.err
	}
	if v.Len() == 0 {
		return nil
	}
	if err := w.checkKey(key); err != nil {
		return err
	}
	nblocks := (v.Len() + MaxPointsPerBlock - 1) / MaxPointsPerBlock
	if nblocks > maxBlocksPerKey {
		return fmt.Errorf("tsm: key %q has %d blocks, at most %d fit in one file", key, nblocks, maxBlocksPerKey)
	}
	w.beginKey(key, v.Type, nblocks)
	for i := 0; i < v.Len(); i += MaxPointsPerBlock {
		j := min(i+MaxPointsPerBlock, v.Len())
		w.chunk = Values{Type: v.Type, T: v.T[i:j]}
		if v.Type == StringType {
			w.chunk.S = v.S[i:j]
		} else {
			w.chunk.V = v.V[i:j]
		}
		var err error
		if w.block, err = appendBlock(w.block[:0], &w.chunk); err != nil {
			w.err = err
			return err
		}
		w.addBlock(w.chunk.T[0], w.chunk.T[len(w.chunk.T)-1], w.block, len(w.chunk.T))
	}
	return w.err
}

func (w *writer) checkKey(key []byte) error {
	if len(key) == 0 || len(key) > maxKeySize {
		return fmt.Errorf("%w: %d bytes", ErrInvalidKey, len(key))
	}
	if w.lastKey != nil && string(key) <= string(w.lastKey) {
		return fmt.Errorf("tsm: key %q written after %q: keys must be ascending", key, w.lastKey)
	}
	return nil
}

func (w *writer) beginKey(key []byte, t Type, nblocks int) {
	w.lastKey = append(w.lastKey[:0], key...)
	w.offsets = append(w.offsets, uint32(len(w.index)))
	w.hashes = append(w.hashes, xxhash.Sum64(key))
	w.index = binary.LittleEndian.AppendUint16(w.index, uint16(len(key)))
	w.index = append(w.index, key...)
	w.index = append(w.index, byte(t))
	w.index = binary.LittleEndian.AppendUint16(w.index, uint16(nblocks))
	w.stats.Keys++
}

func (w *writer) addBlock(minT, maxT int64, block []byte, n int) {
	w.index = binary.LittleEndian.AppendUint64(w.index, uint64(minT))
	w.index = binary.LittleEndian.AppendUint64(w.index, uint64(maxT))
	w.index = binary.LittleEndian.AppendUint64(w.index, w.off)
	w.index = binary.LittleEndian.AppendUint32(w.index, uint32(len(block)))
	w.write(block)
	w.stats.Blocks++
	w.stats.Values += n
	w.stats.MinTime = min(w.stats.MinTime, minT)
	w.stats.MaxTime = max(w.stats.MaxTime, maxT)
}

// Close writes index, offsets, bloom filter and footer, fsyncs, renames the
// file into place and fsyncs the directory. A file with no keys is not
// created (Close returns Keys == 0 and removes the temporary file).
func (w *writer) Close() (FileStats, error) {
	if w.err != nil {
		w.abort()
		return w.stats, w.err
	}
	if w.stats.Keys == 0 {
		w.abort()
		return w.stats, nil
	}
	tail := make([]byte, 0, len(w.index)+4*len(w.offsets)+footerSize+len(w.hashes)*2)
	indexOff := w.off
	tail = append(tail, w.index...)
	offsetsOff := indexOff + uint64(len(tail))
	for _, o := range w.offsets {
		tail = binary.LittleEndian.AppendUint32(tail, o)
	}
	bloomOff := indexOff + uint64(len(tail))
	bloom := newBloom(len(w.hashes))
	for _, h := range w.hashes {
		bloom.addHash(h)
	}
	tail = bloom.appendTo(tail)
	w.stats.IndexBytes = int(bloomOff - indexOff)
	w.stats.BloomBytes = len(tail) - int(bloomOff-indexOff)
	tail = binary.LittleEndian.AppendUint64(tail, indexOff)
	tail = binary.LittleEndian.AppendUint64(tail, offsetsOff)
	tail = binary.LittleEndian.AppendUint64(tail, bloomOff)
	tail = binary.LittleEndian.AppendUint32(tail, uint32(len(w.offsets)))
	tail = binary.LittleEndian.AppendUint32(tail, crc32.Checksum(tail, castagnoli))
	tail = append(tail, fileMagic...)
	w.write(tail)
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if w.err == nil {
		w.err = w.f.Sync()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if w.err == nil {
		w.err = os.Rename(w.path+".tmp", w.path)
	}
	if w.err == nil {
		w.err = wal.SyncDir(filepath.Dir(w.path))
	}
	if w.err != nil {
		os.Remove(w.path + ".tmp")
		return w.stats, fmt.Errorf("tsm: write %s: %w", w.path, w.err)
	}
	w.stats.Size = int64(w.off)
	return w.stats, nil
}

// abort removes the temporary file.
func (w *writer) abort() {
	w.f.Close()
	os.Remove(w.path + ".tmp")
}
