package tsdb

import (
	"errors"
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
// files (by series ref), then the WAL from its last checkpoint on. A WAL
// sample is skipped when a block already covers its time or a re-mapped
// chunk already holds it, so the WAL only fills the open chunks and the
// out-of-order samples. With an out-of-order window, a sample older than
// the newest block's end goes to its series' past store instead (flushPast
// writes those to blocks).
func (db *DB) recoverHead() error {
	minValid := int64(math.MinInt64)
	for _, b := range db.blocks {
		minValid = max(minValid, b.Meta().MaxTime)
	}
	hc, mapped, err := db.openHeadChunks(minValid)
	if err != nil {
		return err
	}
	h := newHead(db.opts, db.wal, hc)
	h.minValid.Store(minValid)
	db.head = h
	rp := &replayer{h: h, rec: &db.recovery, mapped: mapped, minValid: minValid, alias: map[uint64]*memSeries{}}
	if err := rp.replay(filepath.Join(db.dir, WALDirname)); err != nil {
		return err
	}
	rp.finish()
	h.samples.Store(0)
	return nil
}

// openHeadChunks opens the head-chunks files and lists, by series ref, the
// chunks that end at or after minValid (older ones are in blocks). Damaged
// files are discarded, the error kept in Recovery.HeadChunksErr: the WAL
// holds every sample they had.
func (db *DB) openHeadChunks(minValid int64) (*chunks.HeadChunks, map[uint64][]chunks.Meta, error) {
	mapped := map[uint64][]chunks.Meta{}
	hc, err := chunks.OpenHeadChunks(filepath.Join(db.dir, HeadChunksDirname), db.opts.HeadChunkFileSize, func(r chunks.HeadRecord) {
		if r.MaxT >= minValid {
			mapped[r.Series] = append(mapped[r.Series], chunks.Meta{Ref: r.Ref, MinT: r.MinT, MaxT: r.MaxT})
		}
	})
	if hc != nil {
		hc.SetFileSpan(db.opts.BlockRange) // a file per block range: it goes whole when the head passes it
	}
	if err == nil {
		return hc, mapped, nil
	}
	if hc == nil || !errors.Is(err, chunks.ErrCorrupt) {
		if hc != nil {
			hc.Close()
		}
		return nil, nil, fmt.Errorf("tsdb: %w", err)
	}
	db.recovery.HeadChunksErr = err
	if err := hc.RemoveAll(); err != nil {
		return nil, nil, fmt.Errorf("tsdb: %w", err)
	}
	return hc, map[uint64][]chunks.Meta{}, nil
}

// replayer applies WAL records to a fresh head.
//
// Which WAL samples a re-mapped chunk holds: a sample was in order when it
// was newer than every sample of its series logged before it, and in-order
// samples fill the chunks one after the other, so those up to the last
// re-mapped chunk's end are in the re-mapped chunks (a series' chunks in
// the file are always its oldest, see Head.writeFull). The others were out
// of order and never went into a head-chunks file. During the replay a
// series' maxT is therefore the newest sample replayed (or skipped as
// re-mapped), not the end of its re-mapped chunks; finish sets that where
// the WAL did not reach it.
type replayer struct {
	h        *Head
	rec      *Recovery
	mapped   map[uint64][]chunks.Meta
	minValid int64
	// alias: a series' labels logged again under a newer ref (the series
	// was truncated away and came back); samples may use either ref.
	alias map[uint64]*memSeries

	slab chunkSlab
}

// walRecord is one WAL record as the reading goroutine hands it over:
// decoded, or the error that stops the replay.
type walRecord struct {
	typ     wal.RecordType
	series  []wal.RefSeries
	samples []wal.RefSample
	stones  []wal.Tombstone
	hists   []wal.RefHistogram
	fhists  []wal.RefFloatHistogram
	err     error // decoding error, or (typ 0) the reader's
}

// replayAhead is how many decoded records the reading goroutine may be
// ahead of the one applying them.
const replayAhead = 16

// replay reads the WAL in dir and applies its records in order. Reading,
// checking, decompressing and decoding run on their own goroutine, ahead
// of the applying one: on two cores a replay takes about the longer of
// the two instead of their sum. Records are recycled through free, so the
// replay allocates no more than replayAhead+1 of them.
func (rp *replayer) replay(dir string) error {
	r, err := wal.NewReader(dir)
	if err != nil {
		return fmt.Errorf("tsdb: wal replay: %w", err)
	}
	recs := make(chan *walRecord, replayAhead)
	free := make(chan *walRecord, replayAhead+1)
	for range replayAhead + 1 {
		free <- new(walRecord)
	}
	done := make(chan struct{})
	go readWAL(r, recs, free, done)
	defer func() {
		close(done)
		for range recs { // until readWAL has closed the reader and returned
		}
	}()
	for wr := range recs {
		if wr.err != nil {
			return fmt.Errorf("tsdb: wal replay: %w", wr.err)
		}
		rp.rec.WALRecords++
		switch wr.typ {
		case wal.RecordSeries:
			err = rp.seriesRecord(wr.series)
		case wal.RecordSamples, wal.RecordDenseSamples:
			rp.samplesRecord(wr.samples)
		case wal.RecordDeletes:
			rp.deletesRecord(wr.stones)
		case wal.RecordHistograms:
			for _, r := range wr.hists {
				rp.histSample(r.Ref, hsample{t: r.T, h: r.H})
			}
			clear(wr.hists) // the head keeps the histograms, not the record
		case wal.RecordFloatHistograms:
			for _, r := range wr.fhists {
				rp.histSample(r.Ref, hsample{t: r.T, fh: r.FH})
			}
			clear(wr.fhists)
		}
		if err != nil {
			return err
		}
		free <- wr
	}
	return nil
}

// readWAL is replay's reading goroutine: it decodes each record of r into
// a walRecord taken from free and sends it on recs, in log order, then the
// reader's error if any; it closes r and then recs when done, or as soon as
// done is closed.
func readWAL(r *wal.Reader, recs, free chan *walRecord, done <-chan struct{}) {
	defer close(recs)
	defer r.Close()
	send := func(wr *walRecord) bool {
		select {
		case recs <- wr:
			return true
		case <-done:
			return false
		}
	}
	for r.Next() {
		var wr *walRecord
		select {
		case wr = <-free:
		case <-done:
			return
		}
		b := r.Record()
		wr.typ, wr.err = wal.Type(b), nil
		switch wr.typ {
		case wal.RecordSeries:
			wr.series, wr.err = wal.DecodeSeries(b, wr.series)
		case wal.RecordSamples, wal.RecordDenseSamples:
			wr.samples, wr.err = wal.DecodeSamples(b, wr.samples)
		case wal.RecordDeletes:
			wr.stones, wr.err = wal.DecodeTombstones(b, wr.stones)
		case wal.RecordHistograms:
			wr.hists, wr.err = wal.DecodeHistograms(b, wr.hists)
		case wal.RecordFloatHistograms:
			wr.fhists, wr.err = wal.DecodeFloatHistograms(b, wr.fhists)
		}
		if !send(wr) || wr.err != nil {
			return
		}
	}
	if err := r.Err(); err != nil {
		send(&walRecord{err: err})
	}
}

func (rp *replayer) lookup(ref uint64) *memSeries {
	if s := rp.h.byRef.get(ref); s != nil {
		return s
	}
	return rp.alias[ref]
}

// seriesRecord creates the series of a record, with their re-mapped chunks.
func (rp *replayer) seriesRecord(series []wal.RefSeries) error {
	h := rp.h
	for _, rs := range series {
		if s := h.byRef.get(rs.Ref); s != nil {
			continue // logged again by a later commit
		}
		s, created, err := h.createLocked(rs.Labels, rs.Ref)
		if err != nil {
			return err
		}
		if !created {
			rp.alias[rs.Ref] = s
			continue
		}
		s.set(flagLogged)
		rp.rec.SeriesLoaded++
		if ms := rp.mapped[rs.Ref]; len(ms) > 0 {
			sort.Slice(ms, func(i, j int) bool { return ms[i].MinT < ms[j].MinT })
			s.mmapped = ms
			rp.rec.HeadChunks += len(ms)
			h.updateRange(ms[0].MinT, ms[len(ms)-1].MaxT)
		}
	}
	return nil
}

// samplesRecord applies a record's samples.
func (rp *replayer) samplesRecord(samples []wal.RefSample) {
	h, rec := rp.h, rp.rec
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	for _, rs := range samples {
		s := rp.lookup(rs.Ref)
		if s == nil {
			rec.UnknownRefs++
			continue
		}
		if rs.T < rp.minValid {
			if h.opts.OutOfOrderWindow <= 0 {
				rec.SamplesSkipped++ // in a block
				continue
			}
			// A sample the past store took and compaction has not written
			// yet (the checkpoint after flushPast drops those it wrote),
			// or one of a range cut to a block just before a crash that
			// left its segment: written again, the copy makes a block that
			// overlaps and vertical compaction merges, deduplicated.
			s.addPast(rs.T, rs.V)
			h.hasPast.Store(true)
			rec.SamplesLoaded++
			continue
		}
		switch {
		case !s.is(flagHasMax) || rs.T > s.maxT:
			if n := len(s.mmapped); n > 0 && rs.T <= s.mmapped[n-1].MaxT {
				// In order, so in a re-mapped chunk.
				s.maxT, s.lastV = rs.T, rs.V
				s.flags = s.flags&^flagLastHist | flagHasMax
				rec.SamplesSkipped++
				continue
			}
			if full, fmin, fmax := s.appendInOrder(rs.T, rs.V, h.opts.BlockRange, 0, 1, &rp.slab); full != nil {
				h.writeFull(s, full, fmin, fmax)
			}
		case rs.T == s.maxT:
			rec.SamplesSkipped++ // the same sample again
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
	if mint <= maxt {
		h.updateRange(mint, maxt)
	}
}

// histSample applies a histogram sample of a record, as samplesRecord
// applies a float one.
func (rp *replayer) histSample(ref uint64, hs hsample) {
	h, rec := rp.h, rp.rec
	s := rp.lookup(ref)
	if s == nil {
		rec.UnknownRefs++
		return
	}
	if hs.t < rp.minValid {
		if h.opts.OutOfOrderWindow <= 0 {
			rec.SamplesSkipped++
			return
		}
		s.addPastHist(hs)
		h.hasPast.Store(true)
		rec.SamplesLoaded++
		return
	}
	switch {
	case !s.is(flagHasMax) || hs.t > s.maxT:
		if n := len(s.mmapped); n > 0 && hs.t <= s.mmapped[n-1].MaxT {
			s.setLastHist(hs)
			rec.SamplesSkipped++
			return
		}
		if full, fmin, fmax := s.appendHistInOrder(hs, h.opts.BlockRange, 0, 1); full != nil {
			h.writeFull(s, full, fmin, fmax)
		}
	case hs.t == s.maxT:
		rec.SamplesSkipped++
		return
	case h.opts.OutOfOrderWindow > 0:
		s.addOOOHist(hs)
	default:
		rec.SamplesSkipped++
		return
	}
	rec.SamplesLoaded++
	h.updateRange(hs.t, hs.t)
}

// deletesRecord applies a record's tombstones.
func (rp *replayer) deletesRecord(stones []wal.Tombstone) {
	for _, st := range stones {
		if s := rp.lookup(st.Ref); s != nil {
			s.addStone(block.Interval{Mint: st.Mint, Maxt: st.Maxt})
		}
	}
}

// finish gives each series whose newest sample is in a re-mapped chunk the
// WAL did not replay (a WAL cut short by a repair) that sample as maxT and
// lastV, read from the chunk, so appends go on after it.
func (rp *replayer) finish() {
	h := rp.h
	h.byID.each(func(s *memSeries) bool {
		n := len(s.mmapped)
		if n == 0 || s.is(flagHasMax) && s.maxT >= s.mmapped[n-1].MaxT {
			return true
		}
		last := s.mmapped[n-1]
		s.maxT = last.MaxT
		s.set(flagHasMax)
		if last.Ref.Encoding() != chunks.EncFloat {
			if data, err := h.hc.Chunk(last.Ref); err == nil {
				if hs, err := decodeHist(data, nil, nil); err == nil && len(hs) > 0 {
					s.setLastHist(hs[len(hs)-1])
				}
			}
			return true
		}
		s.clear(flagLastHist)
		if data, err := h.hc.Chunk(last.Ref); err == nil {
			if _, vs, err := gorilla.DecodeAll(data, nil, nil); err == nil && len(vs) > 0 {
				s.lastV = vs[len(vs)-1]
			}
		}
		return true
	})
}
