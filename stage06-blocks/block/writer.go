package block

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// ChunkData is one encoded chunk handed to the writer: its time range
// (inclusive) and its Gorilla bytes.
type ChunkData struct {
	MinT, MaxT int64
	Data       []byte
	Samples    int
}

// Writer builds one block. Series must be added in label order
// (model.Labels.Compare), which is what makes the block's series IDs, and so
// the order Select returns them in, the label order.
type Writer struct {
	parent string
	id     ulid.ULID
	tmp    string
	segs   *chunks.SegmentWriter
	ix     *index.Index
	pays   [][]byte
	last   model.Labels
	stats  Stats
	metas  []chunks.Meta
	mint   int64
	maxt   int64
	done   bool
}

// NewULID returns a new ULID for the current time.
func NewULID() ulid.ULID { return ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader) }

// NewWriter starts a block in parent/<ulid>.tmp. segmentSize ≤ 0 means
// chunks.MaxSegmentSize.
func NewWriter(parent string, segmentSize int64) (*Writer, error) {
	id := NewULID()
	tmp := filepath.Join(parent, id.String()+TmpSuffix)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	segs, err := chunks.NewSegmentWriter(filepath.Join(tmp, ChunksDirname), segmentSize)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &Writer{parent: parent, id: id, tmp: tmp, segs: segs, ix: index.New(), mint: 1<<63 - 1, maxt: -1 << 63}, nil
}

// ULID is the name the block will have.
func (w *Writer) ULID() ulid.ULID { return w.id }

// AddSeries writes a series and its chunks (sorted by time, not
// overlapping). A series without chunks is skipped.
func (w *Writer) AddSeries(ls model.Labels, cs []ChunkData) error {
	if len(cs) == 0 {
		return nil
	}
	if w.stats.NumSeries > 0 && ls.Compare(w.last) <= 0 {
		return fmt.Errorf("block: series %s added out of order (after %s)", ls, w.last)
	}
	w.metas = w.metas[:0]
	for _, c := range cs {
		ref, err := w.segs.WriteChunk(c.Data)
		if err != nil {
			return err
		}
		w.metas = append(w.metas, chunks.Meta{Ref: ref, MinT: c.MinT, MaxT: c.MaxT})
		w.stats.NumChunks++
		w.stats.NumSamples += uint64(c.Samples)
		w.mint = min(w.mint, c.MinT)
		w.maxt = max(w.maxt, c.MaxT)
	}
	id, created, err := w.ix.Add(ls)
	if err != nil {
		return fmt.Errorf("block: series %s: %w", ls, err)
	}
	if !created || int(id) != len(w.pays) {
		return fmt.Errorf("block: series %s: unexpected index ID %d", ls, id)
	}
	w.pays = append(w.pays, chunks.AppendMetas(nil, w.metas))
	w.last = ls
	w.stats.NumSeries++
	return nil
}

// NumSeries is the number of series added so far.
func (w *Writer) NumSeries() uint64 { return w.stats.NumSeries }

// Finish writes the index, empty tombstones and meta.json, fsyncs them and
// renames the directory to its ULID. mint and maxt are the block's range
// ([mint, maxt), the meta's times); parents are the blocks it replaces
// (nil for a block cut from the head). It returns the meta written.
func (w *Writer) Finish(mint, maxt int64, level int, sources []ulid.ULID, parents []BlockDesc) (Meta, error) {
	w.done = true
	m := Meta{ULID: w.id, MinTime: mint, MaxTime: maxt, Stats: w.stats, Version: metaVersion,
		Compaction: Compaction{Level: level, Sources: sources, Parents: parents}}
	if len(m.Compaction.Sources) == 0 {
		m.Compaction.Sources = []ulid.ULID{w.id}
	}
	fail := func(err error) (Meta, error) {
		os.RemoveAll(w.tmp)
		return m, fmt.Errorf("block %s: %w", w.id, err)
	}
	if mint >= maxt {
		return fail(fmt.Errorf("empty time range [%d, %d)", mint, maxt))
	}
	if w.stats.NumSeries > 0 && (w.mint < mint || w.maxt >= maxt) {
		return fail(fmt.Errorf("samples [%d, %d] outside the block range [%d, %d)", w.mint, w.maxt, mint, maxt))
	}
	if err := w.segs.Close(); err != nil {
		return fail(err)
	}
	if err := w.ix.WriteFile(filepath.Join(w.tmp, IndexFilename), func(id index.SeriesID) []byte { return w.pays[id] }); err != nil {
		return fail(err)
	}
	if _, err := writeTombstones(w.tmp, nil); err != nil {
		return fail(err)
	}
	if err := writeMeta(w.tmp, m); err != nil {
		return fail(err)
	}
	for _, d := range []string{filepath.Join(w.tmp, ChunksDirname), w.tmp} {
		if err := wal.SyncDir(d); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(w.tmp, filepath.Join(w.parent, w.id.String())); err != nil {
		return fail(err)
	}
	if err := wal.SyncDir(w.parent); err != nil {
		return m, fmt.Errorf("block %s: %w", w.id, err)
	}
	return m, nil
}

// Abort removes the unfinished block.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.segs.Close()
	return os.RemoveAll(w.tmp)
}
