package tsdb

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// recoverHead rebuilds the head: the full chunks from the head-chunks
// files (by series ref), then the WAL from its last checkpoint on. A sample
// is skipped when a block already covers its time or a re-mapped chunk
// already holds it, so the WAL only fills the open chunks.
func (db *DB) recoverHead() error {
	minValid := int64(math.MinInt64)
	for _, b := range db.blocks {
		minValid = max(minValid, b.Meta().MaxTime)
	}
	mapped := map[uint64][]chunks.Meta{}
	hcDir := filepath.Join(db.dir, HeadChunksDirname)
	hc, err := chunks.OpenHeadChunks(hcDir, db.opts.HeadChunkFileSize, func(r chunks.HeadRecord) {
		if r.MaxT >= minValid {
			mapped[r.Series] = append(mapped[r.Series], chunks.Meta{Ref: r.Ref, MinT: r.MinT, MaxT: r.MaxT})
		}
	})
	if err == nil && db.opts.OutOfOrderWindow > 0 && len(mapped) > 0 {
		// With out-of-order samples, a WAL sample older than a mapped
		// chunk's end may be one that never went into that chunk; rather
		// than decode chunks to tell, rebuild the head from the WAL alone.
		err = fmt.Errorf("out-of-order window set: head chunks not re-mapped")
	}
	if err != nil {
		if hc == nil {
			return fmt.Errorf("tsdb: %w", err)
		}
		// A damaged head-chunks file: the WAL holds every sample in it, so
		// start over from the WAL alone.
		db.recovery.HeadChunksErr = err
		mapped = map[uint64][]chunks.Meta{}
		if err := hc.RemoveAll(); err != nil {
			return fmt.Errorf("tsdb: %w", err)
		}
	}
	h := newHead(db.opts, db.wal, hc)
	h.minValid.Store(minValid)
	db.head = h

	r, err := wal.NewReader(filepath.Join(db.dir, WALDirname))
	if err != nil {
		return fmt.Errorf("tsdb: wal replay: %w", err)
	}
	defer r.Close()
	var (
		series  []wal.RefSeries
		samples []wal.RefSample
		stones  []wal.Tombstone
		slab    chunkSlab
		alias   = map[uint64]*memSeries{}
		rec     = &db.recovery
	)
	lookup := func(ref uint64) *memSeries {
		if s := h.byRef.get(ref); s != nil {
			return s
		}
		return alias[ref]
	}
	for r.Next() {
		b := r.Record()
		rec.WALRecords++
		switch wal.Type(b) {
		case wal.RecordSeries:
			if series, err = wal.DecodeSeries(b, series); err != nil {
				return fmt.Errorf("tsdb: wal replay: %w", err)
			}
			for _, rs := range series {
				if s := h.byRef.get(rs.Ref); s != nil {
					continue // logged again by a later commit
				}
				s, created, err := h.createLocked(rs.Labels, rs.Ref)
				if err != nil {
					return err
				}
				if !created {
					// The same labels under an older ref (the series was
					// truncated away and came back): samples may use either.
					alias[rs.Ref] = s
					continue
				}
				s.logged = true
				rec.SeriesLoaded++
				if ms := mapped[rs.Ref]; len(ms) > 0 {
					sort.Slice(ms, func(i, j int) bool { return ms[i].MinT < ms[j].MinT })
					s.mmapped = ms
					rec.HeadChunks += len(ms)
					last := ms[len(ms)-1]
					s.maxT = last.MaxT
					if data, err := hc.Chunk(last.Ref); err == nil {
						ts, vs, err := gorilla.DecodeAll(data, nil, nil)
						if err == nil && len(ts) > 0 {
							s.lastV = vs[len(vs)-1]
						}
					}
					h.updateRange(ms[0].MinT, last.MaxT)
				}
			}
		case wal.RecordSamples:
			if samples, err = wal.DecodeSamples(b, samples); err != nil {
				return fmt.Errorf("tsdb: wal replay: %w", err)
			}
			mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
			for _, rs := range samples {
				s := lookup(rs.Ref)
				if s == nil {
					rec.UnknownRefs++
					continue
				}
				if rs.T < minValid || (len(s.mmapped) > 0 && rs.T <= s.mmapped[len(s.mmapped)-1].MaxT) {
					rec.SamplesSkipped++
					continue
				}
				switch {
				case rs.T > s.maxT:
					if full, fmin, fmax := s.appendInOrder(rs.T, rs.V, h.opts.BlockRange, 0, 1, &slab); full != nil {
						h.writeFull(s, full, fmin, fmax)
					}
				case rs.T == s.maxT:
					rec.SamplesSkipped++
					continue
				case h.opts.OutOfOrderWindow > 0:
					s.addOOO(rs.T, rs.V)
				default:
					rec.SamplesSkipped++
					continue
				}
				rec.SamplesLoaded++
				mint, maxt = min(mint, rs.T), max(maxt, rs.T)
			}
			if maxt != math.MinInt64 {
				h.updateRange(mint, maxt)
			}
		case wal.RecordDeletes:
			if stones, err = wal.DecodeTombstones(b, stones); err != nil {
				return fmt.Errorf("tsdb: wal replay: %w", err)
			}
			for _, st := range stones {
				if s := lookup(st.Ref); s != nil {
					s.addStone(block.Interval{Mint: st.Mint, Maxt: st.Maxt})
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("tsdb: wal replay: %w", err)
	}
	if e := h.chunkErr.Swap(nil); e != nil {
		return *e
	}
	h.samples.Store(0)
	return nil
}
