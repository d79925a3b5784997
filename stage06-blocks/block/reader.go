package block

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// Block is an open, immutable block. Its methods are safe for concurrent
// use. Readers pin it with Acquire/Release; Close waits for none of them,
// so the owner (the DB) calls it only once the last reader is done
// (CloseWhenUnused).
type Block struct {
	dir      string
	meta     Meta
	indexMap []byte
	ix       *index.Index
	segs     *chunks.Segments
	size     int64

	tombMu sync.Mutex // serialises Delete's read-modify-write
	tombs  atomic.Pointer[Tombstones]

	damageMu sync.Mutex
	damage   error // the first chunk found damaged on read
	damaged  int   // reads that failed

	refMu    sync.Mutex
	refCond  *sync.Cond
	refs     int
	closing  bool
	closed   bool
	closeErr error
}

// Open opens the block in dir. Everything that can be checked without
// reading the chunk data is checked before the block is returned, so a
// damaged block is reported (the error wraps ErrCorrupt) instead of being
// half-read later: meta.json (its checksum), the index (stage05's CRCs and
// structure), every series' chunk list, that each chunk lies in the meta's
// time range and in an existing segment file, the segment headers, that
// the meta's counts are the index's (those two wrap ErrMetaMismatch) and
// the tombstones (their CRC). A missing file is damage too. Chunk bytes are
// checked against their CRCs when read (Chunk).
func Open(dir string) (_ *Block, err error) {
	meta, err := ReadMeta(dir)
	if err != nil {
		return nil, err
	}
	// b is not the named result: every "return nil, err" below sets that
	// to nil before the deferred cleanup runs, which must unmap b's files.
	b := &Block{dir: dir, meta: meta}
	b.refCond = sync.NewCond(&b.refMu)
	defer func() {
		if err != nil {
			b.release()
			// A file of the block gone missing is damage like any other.
			if !errors.Is(err, ErrCorrupt) && (errors.Is(err, index.ErrCorrupt) || errors.Is(err, chunks.ErrCorrupt) || errors.Is(err, os.ErrNotExist)) {
				err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			err = fmt.Errorf("block %s: %w", filepath.Base(dir), err)
		}
	}()
	if b.indexMap, err = chunks.MapFile(filepath.Join(dir, IndexFilename)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: index missing", ErrCorrupt)
		}
		return nil, err
	}
	if b.ix, err = index.Decode(b.indexMap); err != nil {
		return nil, err
	}
	if b.segs, err = chunks.OpenSegments(filepath.Join(dir, ChunksDirname)); err != nil {
		return nil, err
	}
	if uint64(b.ix.Len()) != meta.Stats.NumSeries {
		return nil, fmt.Errorf("%w: index has %d series, meta.json %d", ErrMetaMismatch, b.ix.Len(), meta.Stats.NumSeries)
	}
	var metas []chunks.Meta
	var nchunks uint64
	var bad error
	b.ix.All().Iterate(func(id uint32) bool {
		metas, bad = chunks.DecodeMetas(b.ix.Payload(id), metas)
		if bad == nil && len(metas) == 0 {
			bad = fmt.Errorf("%w: series %d has no chunks", ErrCorrupt, id)
		}
		for _, m := range metas {
			switch {
			case m.MinT > m.MaxT:
				bad = fmt.Errorf("%w: series %d: chunk [%d, %d] ends before it starts", ErrCorrupt, id, m.MinT, m.MaxT)
			case m.MinT < meta.MinTime || m.MaxT >= meta.MaxTime:
				bad = fmt.Errorf("%w: series %d: chunk [%d, %d] outside the block's [%d, %d)", ErrMetaMismatch, id, m.MinT, m.MaxT, meta.MinTime, meta.MaxTime)
			default:
				if e := b.segs.Check(m.Ref); e != nil {
					bad = fmt.Errorf("series %d: %w", id, e)
				}
			}
		}
		nchunks += uint64(len(metas))
		return bad == nil
	})
	if bad != nil {
		return nil, bad
	}
	if nchunks != meta.Stats.NumChunks {
		return nil, fmt.Errorf("%w: index has %d chunks, meta.json %d", ErrMetaMismatch, nchunks, meta.Stats.NumChunks)
	}
	tb, err := os.ReadFile(filepath.Join(dir, TombstonesFilename))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: tombstones missing", ErrCorrupt)
	}
	if err != nil {
		return nil, err
	}
	t, err := DecodeTombstones(tb)
	if err != nil {
		return nil, err
	}
	b.tombs.Store(&t)
	b.size, err = measure.DirSize(dir)
	return b, err
}

// Dir is the block's directory.
func (b *Block) Dir() string { return b.dir }

// Meta is the block's meta.json.
func (b *Block) Meta() Meta { return b.meta }

// Index is the block's index. Series IDs are in label order.
func (b *Block) Index() *index.Index { return b.ix }

// Size is the block's size on disk in bytes.
func (b *Block) Size() int64 { return b.size }

// IndexSize is the size of the index file.
func (b *Block) IndexSize() int64 { return int64(len(b.indexMap)) }

// Labels returns the labels of series id.
func (b *Block) Labels(id uint32) (model.Labels, bool) { return b.ix.Labels(id) }

// Chunks decodes the chunk list of series id into dst.
func (b *Block) Chunks(id uint32, dst []chunks.Meta) ([]chunks.Meta, error) {
	return chunks.DecodeMetas(b.ix.Payload(id), dst)
}

// Chunk returns the bytes of a chunk (aliasing the mapping: valid while the
// block is acquired), checked against their CRC. A chunk that fails is
// damage the block remembers (Damage); the error wraps ErrCorrupt and
// names the block.
func (b *Block) Chunk(ref chunks.Ref) ([]byte, error) {
	data, err := b.segs.Chunk(ref)
	if err != nil {
		err = fmt.Errorf("block %s: %w: %w", b.meta.ULID, ErrCorrupt, err)
		b.damageMu.Lock()
		if b.damage == nil {
			b.damage = err
		}
		b.damaged++
		b.damageMu.Unlock()
	}
	return data, err
}

// Damage is how many chunk reads failed since Open, and the first error;
// 0 and nil while every chunk read was whole.
func (b *Block) Damage() (n int, first error) {
	b.damageMu.Lock()
	defer b.damageMu.Unlock()
	return b.damaged, b.damage
}

// Tombstones returns the current tombstones; the map must not be modified.
func (b *Block) Tombstones() Tombstones { return *b.tombs.Load() }

// Delete adds the interval [mint, maxt] to the tombstones of the given
// series and rewrites the tombstones file atomically. Readers that already
// loaded the tombstones keep their copy.
func (b *Block) Delete(ids []uint32, mint, maxt int64) error {
	b.tombMu.Lock()
	defer b.tombMu.Unlock()
	old := *b.tombs.Load()
	t := make(Tombstones, len(old)+len(ids))
	for id, s := range old {
		t[id] = s
	}
	for _, id := range ids {
		t[id] = t[id].Add(Interval{mint, maxt})
	}
	n, err := writeTombstones(b.dir, t)
	if err != nil {
		return fmt.Errorf("block %s: tombstones: %w", b.meta.ULID, err)
	}
	b.tombs.Store(&t)
	b.size, _ = measure.DirSize(b.dir)
	_ = n
	return nil
}

// Acquire pins the block for a reader; it returns false if the block is
// already closing (the reader must then not use it).
func (b *Block) Acquire() bool {
	b.refMu.Lock()
	defer b.refMu.Unlock()
	if b.closing {
		return false
	}
	b.refs++
	return true
}

// Release unpins the block.
func (b *Block) Release() {
	b.refMu.Lock()
	b.refs--
	if b.refs == 0 {
		b.refCond.Broadcast()
	}
	b.refMu.Unlock()
}

// Close refuses new readers, waits until none holds the block, then unmaps
// it.
func (b *Block) Close() error {
	b.refMu.Lock()
	defer b.refMu.Unlock()
	b.closing = true
	for b.refs > 0 {
		b.refCond.Wait()
	}
	if !b.closed {
		b.closed = true
		b.closeErr = b.release()
	}
	return b.closeErr
}

func (b *Block) release() error {
	var err error
	if b.segs != nil {
		err = b.segs.Close()
	}
	if b.indexMap != nil {
		if e := chunks.Unmap(b.indexMap); err == nil {
			err = e
		}
		b.indexMap = nil
	}
	return err
}
