package tsdb

import (
	"errors"
	"math"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// SamplesPerChunk is the most samples a head chunk takes before it is cut:
// 120, as in Prometheus (two hours of 1-minute samples, 30 minutes of
// 15-second ones), where the Gorilla encoding has paid off its start-up cost
// and a query decoding a chunk for a few samples still decodes few.
const SamplesPerChunk = 120

// openChunkSize is the buffer a new open chunk starts with: room for the
// first sample of any series (gorilla.NewChunkSize), and a size class of
// Go's allocator. A head of a million series, most of them with a few
// samples in their open chunk, then holds 32 MB of buffers instead of the
// 144 MB of gorilla.NewChunk's 120-sample buffer; a chunk that fills up
// grows to it in two more steps.
const openChunkSize = 32

// chunkSlab hands out open chunks' first buffers, openChunkSize bytes
// each, carved from one allocation: a scrape that creates many series (or
// cuts many chunks) allocates once per 64 of them instead of once each.
// Each goroutine that appends has its own (appendBufs, replay). A chunk
// grows out of its piece by reallocating (gorilla.Chunk.ResetBuf), so a
// slab stays in memory until the last chunk started in it has grown or
// been cut: regular scrapes grow neighbours together.
type chunkSlab []byte

func (c *chunkSlab) next() []byte {
	if len(*c) < openChunkSize {
		*c = make([]byte, 64*openChunkSize)
	}
	b := (*c)[:openChunkSize:openChunkSize]
	*c = (*c)[openChunkSize:]
	return b
}

// memSeries is one series in the head. Full chunks are in the head-chunks
// file (mmapped: only their references are in memory); the open chunk is the
// only sample data on the Go heap.
//
// mu guards every field below it. Readers copy what they need under mu
// (the references, the open chunk's bytes) and read after unlocking.
//
// A head holds one memSeries per active series, so its size counts: 184
// bytes (allocated 22 to a 4 KiB slab, newSeries). The small fields sit
// together, the open chunk derives whether it owns its buffer (stage03),
// the block boundary of the open chunk is computed rather than stored, the
// isolation entry of the newest sample is one ID (its timestamp is maxT),
// and what few series need (older isolation entries, out-of-order samples,
// tombstones) is in extra, allocated on first use. BenchmarkHeadMemory
// reports the size and the rest of a series' bytes.
type memSeries struct {
	ref uint64 // head ref: what Append returns and the WAL names the series by
	id  uint32 // ID in the head's index

	mu    sync.Mutex
	openN uint8 // samples in the open chunk (≤ SamplesPerChunk)
	flags seriesFlags

	mmapped []chunks.Meta // full chunks in the head-chunks file, oldest first

	open     gorilla.Chunk    // the open chunk; valid when openN > 0
	app      gorilla.Appender // its appender
	openMinT int64

	maxT    int64   // newest in-order sample, if hasMax
	lastV   float64 // its value
	pending int64   // newest timestamp accepted by an uncommitted Append, if hasPending
	// txID is the append ID of the sample at maxT (isolation.go); 0 when
	// there is none to hide from a reader (replayed, truncated).
	txID uint64

	extra *seriesExtra // nil for most series
}

// seriesFlags are a series' states, one bit each (a byte, where four bools
// would push memSeries past its size class).
type seriesFlags uint8

const (
	// flagLogged: a series record for ref is in the WAL; until then, every
	// Commit that appends to the series logs one (duplicates are harmless).
	flagLogged seriesFlags = 1 << iota
	// flagDead: truncation removed the series from the head; an appender that
	// still holds it must look its labels up again.
	flagDead
	// flagHasMax: maxT and lastV hold the newest in-order sample. A flag, not
	// a sentinel timestamp: any timestamp may be a sample's.
	flagHasMax
	// flagHasPending: pending holds the newest timestamp an uncommitted
	// Append claimed.
	flagHasPending
	// flagHistOpen: the open chunk is a histogram chunk, in extra.hist
	// (openN is 0 meanwhile: a series has one open chunk, of one kind).
	flagHistOpen
	// flagLastHist: the sample at maxT is a histogram, extra.hist.last;
	// lastV means nothing.
	flagLastHist
)

func (s *memSeries) is(f seriesFlags) bool { return s.flags&f != 0 }
func (s *memSeries) set(f seriesFlags)     { s.flags |= f }
func (s *memSeries) clear(f seriesFlags)   { s.flags &^= f }

// seriesExtra holds the parts of a series that most series do not need. It
// is allocated on first use and dropped when it is empty again (tidy).
type seriesExtra struct {
	// txs are isolation entries older than txID that some reader may not
	// see yet, in the order they were applied.
	txs []tx
	ooo *oooSamples // out-of-order samples, nil without any
	// past are out-of-order samples older than the head's lower bound
	// when they came (Head.minValid: their range is already in a block).
	// They are outside the head's time range: no head cut takes or
	// truncates them; compaction writes them to blocks of their own
	// (flushPast, past.go).
	past   *oooSamples
	stones block.Intervals // deleted ranges (Delete)
	// unmapped are full chunks the head-chunks file could not take (a
	// full disk), oldest first, all newer than mmapped: kept in memory
	// and written first when the series' next chunk is full (writeFull),
	// dropped when the head is cut past them.
	unmapped []memChunk
	// pins counts the out-of-order samples appended to the series and not
	// yet committed or rolled back. An in-order sample keeps its series
	// from truncation with flagHasPending; an out-of-order one cannot
	// claim pending (a timestamp behind maxT), so it pins the series: a
	// series with pins is not removed, and the Commit finds it alive.
	pins int
	// hist is the histogram side of a series that has had a histogram
	// sample: its open histogram chunk and its newest histogram.
	hist *histHead
}

// histHead is what a series with histograms keeps beside the float fields.
type histHead struct {
	w    *histWriter // the open histogram chunk, when flagHistOpen
	minT int64       // its first sample's timestamp
	last hsample     // the newest in-order sample, when flagLastHist
}

// memChunk is a chunk held in memory: its time range and its bytes.
type memChunk struct {
	minT, maxT int64
	data       []byte
}

func newMemSeries(ref uint64, id uint32) *memSeries {
	s := &memSeries{}
	initMemSeries(s, ref, id)
	return s
}

// initMemSeries sets up a zero memSeries (Head.newSeries allocates them in
// slabs).
func initMemSeries(s *memSeries, ref uint64, id uint32) {
	s.ref, s.id = ref, id
}

// more returns extra, allocating it. Called with mu.
func (s *memSeries) more() *seriesExtra {
	if s.extra == nil {
		s.extra = &seriesExtra{}
	}
	return s.extra
}

// tidy drops extra once it holds nothing. Called with mu.
func (s *memSeries) tidy() {
	if x := s.extra; x != nil && len(x.txs) == 0 && x.ooo == nil && x.past == nil && len(x.stones) == 0 && len(x.unmapped) == 0 && x.pins == 0 && x.hist == nil {
		s.extra = nil
	}
}

// pin keeps the series in the head until unpin (see seriesExtra.pins).
// Called with mu.
func (s *memSeries) pin() { s.more().pins++ }

// unpin undoes one pin. Called with mu.
func (s *memSeries) unpin() {
	s.extra.pins--
	s.tidy()
}

// pinned reports whether an uncommitted batch holds an out-of-order
// sample of the series. Called with mu.
func (s *memSeries) pinned() bool { return s.extra != nil && s.extra.pins > 0 }

// ooo returns the out-of-order samples, nil without any. Called with mu.
func (s *memSeries) ooo() *oooSamples {
	if s.extra == nil {
		return nil
	}
	return s.extra.ooo
}

// addOOO adds an out-of-order sample. Called with mu.
func (s *memSeries) addOOO(t int64, v float64) {
	x := s.more()
	if x.ooo == nil {
		x.ooo = &oooSamples{}
	}
	x.ooo.add(t, v)
}

// addOOOHist adds an out-of-order histogram sample. Called with mu.
func (s *memSeries) addOOOHist(hs hsample) {
	x := s.more()
	if x.ooo == nil {
		x.ooo = &oooSamples{}
	}
	x.ooo.addHist(hs)
}

// addPastHist adds a histogram sample older than the head's lower bound.
// Called with mu.
func (s *memSeries) addPastHist(hs hsample) {
	x := s.more()
	if x.past == nil {
		x.past = &oooSamples{}
	}
	x.past.addHist(hs)
}

// past returns the samples older than the head's lower bound, nil
// without any. Called with mu.
func (s *memSeries) past() *oooSamples {
	if s.extra == nil {
		return nil
	}
	return s.extra.past
}

// addPast adds a sample older than the head's lower bound. Called with mu.
func (s *memSeries) addPast(t int64, v float64) {
	x := s.more()
	if x.past == nil {
		x.past = &oooSamples{}
	}
	x.past.add(t, v)
}

// stones returns the deleted ranges. Called with mu.
func (s *memSeries) stones() block.Intervals {
	if s.extra == nil {
		return nil
	}
	return s.extra.stones
}

// addStone records a deleted range. Called with mu.
func (s *memSeries) addStone(iv block.Interval) {
	x := s.more()
	x.stones = x.stones.Add(iv)
}

// appendInOrder adds a sample newer than maxT. cut reports a chunk that
// became full (its bytes are only valid until the next append: the caller
// writes them to the head-chunks file at once, under mu). id is the
// sample's append ID and low the isolation low watermark (isolation.go).
func (s *memSeries) appendInOrder(t int64, v float64, blockRange int64, id, low uint64, slab *chunkSlab) (full []byte, fullMin, fullMax int64) {
	// The open chunk ends at the end of the block range its first sample
	// is in: a sample at or after it starts a new chunk, so no chunk ever
	// spans two blocks and cutting a block from the head never re-encodes
	// a chunk.
	if s.openN > 0 && (s.openN >= SamplesPerChunk || t >= blockEnd(s.openMinT, blockRange)) {
		full, fullMin, fullMax = s.open.Bytes(), s.openMinT, s.maxT
		s.openN = 0
	}
	if s.openN == 0 {
		if s.is(flagHistOpen) {
			// A float after histograms: their chunk is cut (a series has
			// one open chunk, of one kind, as in Prometheus).
			full, fullMin, fullMax = s.cutHist()
		}
		// A new chunk has a buffer of its own, so full stays valid. It
		// starts small (openChunkSize) and grows as samples come.
		_ = s.open.ResetBuf(gorilla.XOR, slab.next()) // XOR and a 32-byte buffer are always valid
		_ = s.app.Reset(&s.open)                      // an empty owned chunk: cannot fail
		s.openMinT = t
	}
	// A head chunk has at most 120 samples and any float is valid in an
	// XOR chunk: Append cannot fail.
	_ = s.app.Append(t, v)
	s.openN++

	// Isolation: the entry of the sample at maxT moves to the older ones
	// if a reader may not see it yet (or older ones are kept: they stay in
	// order); entries every reader sees are forgotten. An emptied extra is
	// kept (the next commit that overlaps another would allocate it again)
	// until truncateMemory tidies it.
	if s.txID >= low || s.extra != nil && len(s.extra.txs) > 0 {
		x := s.more()
		x.txs = append(x.txs, tx{id: s.txID, t: s.maxT})
		x.txs = forgetSeen(x.txs, low)
	}
	s.maxT, s.lastV, s.txID = t, v, id
	s.flags = s.flags&^flagLastHist | flagHasMax
	return full, fullMin, fullMax
}

// cutHist closes the open histogram chunk and returns its bytes. Called
// with mu, flagHistOpen set.
func (s *memSeries) cutHist() (full []byte, fullMin, fullMax int64) {
	hh := s.extra.hist
	full, fullMin, fullMax = hh.w.bytes(), hh.minT, s.maxT
	hh.w = nil
	s.clear(flagHistOpen)
	return full, fullMin, fullMax
}

// appendHistInOrder is appendInOrder for a histogram sample hs (h or fh
// set). The open chunk is cut when it is a float one, of the other
// histogram kind, full, at the block boundary, or when the histogram does
// not fit it (a counter reset, another schema or zero threshold: the
// chunk's appender says; new buckets it takes by recoding the chunk), as
// Prometheus does. A histogram that starts a chunk because of a counter
// reset says so in its hint.
func (s *memSeries) appendHistInOrder(hs hsample, blockRange int64, id, low uint64) (full []byte, fullMin, fullMax int64) {
	x := s.more()
	if x.hist == nil {
		x.hist = &histHead{}
	}
	hh := x.hist
	t := hs.t
	if s.openN > 0 {
		full, fullMin, fullMax = s.open.Bytes(), s.openMinT, s.maxT
		s.openN = 0
		s.open, s.app = gorilla.Chunk{}, gorilla.Appender{}
	}
	if s.is(flagHistOpen) && (hh.w.enc != hs.enc() || hh.w.n() >= SamplesPerChunk || t >= blockEnd(hh.minT, blockRange)) {
		full, fullMin, fullMax = s.cutHist()
	}
	if s.is(flagHistOpen) {
		if err := hh.w.append(hs); err != nil {
			full, fullMin, fullMax = s.cutHist()
			if errors.Is(err, errCounterReset) {
				hs = withResetHint(hs)
			}
		}
	}
	if !s.is(flagHistOpen) {
		hh.w, hh.minT = newHistWriter(hs.enc()), t
		s.set(flagHistOpen)
		_ = hh.w.append(hs) // an empty chunk takes any valid histogram
	}
	if s.txID >= low || len(x.txs) > 0 {
		x.txs = append(x.txs, tx{id: s.txID, t: s.maxT})
		x.txs = forgetSeen(x.txs, low)
	}
	s.maxT, s.txID, hh.last = t, id, hs
	s.set(flagHasMax | flagLastHist)
	return full, fullMin, fullMax
}

// setLastHist makes hs the newest in-order sample, without storing it
// (replay: it is in a re-mapped chunk). Called with mu.
func (s *memSeries) setLastHist(hs hsample) {
	x := s.more()
	if x.hist == nil {
		x.hist = &histHead{}
	}
	x.hist.last = hs
	s.maxT = hs.t
	s.set(flagHasMax | flagLastHist)
}

// withResetHint returns hs with the CounterReset hint if it has none: the
// histogram starts a chunk because its counts went down, and the chunk
// says so, as Prometheus's head does. The histogram is the head's own copy.
func withResetHint(hs hsample) hsample {
	switch {
	case hs.h != nil && hs.h.CounterResetHint == histogram.UnknownCounterReset:
		hs.h.CounterResetHint = histogram.CounterReset
	case hs.fh != nil && hs.fh.CounterResetHint == histogram.UnknownCounterReset:
		hs.fh.CounterResetHint = histogram.CounterReset
	}
	return hs
}

// lastSample is the newest in-order sample, when flagHasMax.
func (s *memSeries) lastSample() hsample {
	if s.is(flagLastHist) {
		return s.extra.hist.last
	}
	return hsample{t: s.maxT, v: s.lastV}
}

// forgetSeen drops the leading entries that every reader sees (IDs below
// the low watermark).
func forgetSeen(txs []tx, low uint64) []tx {
	n := 0
	for n < len(txs) && txs[n].id < low {
		n++
	}
	return txs[:copy(txs, txs[n:])]
}

// blockEnd is the end of the block range t is in.
func blockEnd(t, blockRange int64) int64 {
	return (model.FloorDiv(t, blockRange) + 1) * blockRange
}

// minTime is the oldest sample the series holds in memory or in the head
// chunks (in order or not); math.MaxInt64 for an empty series. Called with mu.
func (s *memSeries) minTime() int64 {
	m := int64(math.MaxInt64)
	switch {
	case len(s.mmapped) > 0:
		m = s.mmapped[0].MinT
	case s.extra != nil && len(s.extra.unmapped) > 0:
		m = s.extra.unmapped[0].minT
	case s.openN > 0:
		m = s.openMinT
	case s.is(flagHistOpen):
		m = s.extra.hist.minT
	}
	if o := s.ooo(); o != nil {
		m = min(m, o.minTime())
	}
	return m
}

// chunkSrc is one chunk a reader will iterate: its time range, where its
// bytes are and what to leave out of it. What the chunks of one source
// series have in common (the block or head-chunks file, the deleted
// ranges, the isolation cap) is in a source they share, so a chunkSrc is
// 32 bytes: a 24 h query over 10,000 series lists half a million of them
// (at 104 bytes, with a copy per source and a merged one, they would be most
// of what such a query allocates).
type chunkSrc struct {
	minT, maxT int64
	// ref is where the chunk is in src's block or head-chunks file; for a
	// chunk in src.data, its offset there << 32 | its length.
	ref chunks.Ref
	src *source
}

// source is what chunks of one series and source share. Sources are
// shared as far as they can be: all the chunks of a block without
// tombstones have one, as do the head's chunks that nothing hides.
type source struct {
	blk *block.Block       // block chunks
	hc  *chunks.HeadChunks // head chunks
	// data holds the chunks themselves: copies of open chunks (an arena
	// buffer many share), an out-of-order chunk.
	data   []byte
	stones block.Intervals
	capT   int64 // isolation: samples after capT are not visible
	// ooo marks out-of-order chunks: where one and an in-order chunk have
	// the same timestamp, the in-order sample wins.
	ooo bool
}

// dataRef is the ref of a chunk of n bytes at off in its source's data.
// Its top bits are the chunk's encoding, as in a file's ref (memRef).
func dataRef(off, n int) chunks.Ref { return chunks.Ref(uint64(off)<<32 | uint64(n)) }

// memRef is the ref of a chunk held whole in its source's data.
func memRef(data []byte) chunks.Ref {
	return dataRef(0, len(data)).WithEncoding(chunks.EncodingOf(data))
}

func (c *chunkSrc) bytes() ([]byte, error) {
	s := c.src
	switch {
	case s.data != nil:
		off, n := int(c.ref>>32&(1<<30-1)), int(c.ref&(1<<32-1))
		return s.data[off : off+n : off+n], nil
	case s.blk != nil:
		return s.blk.Chunk(c.ref)
	default:
		return s.hc.Chunk(c.ref)
	}
}

// queryBytes is bytes for a query: a block's chunk that fails its checks
// reads as an empty chunk. The block has recorded the damage (block.Damage),
// the querier warns about it, and the rest of the result is served.
func (c *chunkSrc) queryBytes() ([]byte, error) {
	b, err := c.bytes()
	if err != nil && c.src.blk != nil && errors.Is(err, block.ErrCorrupt) {
		return emptyChunk, nil
	}
	return b, err
}

// emptyChunk is a valid chunk of no samples.
var emptyChunk = func() []byte {
	c, err := gorilla.NewChunk(gorilla.XOR)
	if err != nil {
		panic(err)
	}
	return c.Bytes()
}()

func (c *chunkSrc) capT() int64             { return c.src.capT }
func (c *chunkSrc) stones() block.Intervals { return c.src.stones }
func (c *chunkSrc) ooo() bool               { return c.src.ooo }

// sourceSet hands out the sources of one Select (or one compaction), from
// slabs, sharing the common ones. The zero value is ready to use.
type sourceSet struct {
	slab  []source
	plain map[*block.Block]*source // a block's chunks, nothing deleted
	head  *source                  // head chunks, nothing hidden or deleted
	// arena holds the copies of open chunks; arenaSrc is the source of
	// those in the current arena buffer that nothing hides or deletes.
	arena    []byte
	arenaSrc *source
}

func (ss *sourceSet) new(s source) *source {
	if len(ss.slab) == cap(ss.slab) {
		// 4, 8, … 256: a query of one series needs one or two.
		ss.slab = make([]source, 0, min(max(2*cap(ss.slab), 4), 256))
	}
	ss.slab = append(ss.slab, s)
	return &ss.slab[len(ss.slab)-1]
}

// block returns the source of block b's chunks of a series with the
// deleted ranges stones.
func (ss *sourceSet) block(b *block.Block, stones block.Intervals) *source {
	if len(stones) > 0 {
		return ss.new(source{blk: b, stones: stones, capT: math.MaxInt64})
	}
	if s := ss.plain[b]; s != nil {
		return s
	}
	if ss.plain == nil {
		ss.plain = map[*block.Block]*source{}
	}
	s := ss.new(source{blk: b, capT: math.MaxInt64})
	ss.plain[b] = s
	return s
}

// headChunks returns the source of a head series' chunks in hc.
func (ss *sourceSet) headChunks(hc *chunks.HeadChunks, stones block.Intervals, capT int64) *source {
	if len(stones) > 0 || capT != math.MaxInt64 {
		return ss.new(source{hc: hc, stones: stones, capT: capT})
	}
	if ss.head == nil || ss.head.hc != hc {
		ss.head = ss.new(source{hc: hc, capT: math.MaxInt64})
	}
	return ss.head
}

// copyOpen copies an open chunk's bytes b into the arena and returns a
// chunkSrc for it (time range left to the caller). The copy goes into
// the arena buffer (see copyTo), so that a query copying thousands of
// open chunks allocates a few large buffers rather than one each, and
// shares the buffer's source when nothing hides or deletes samples.
func (ss *sourceSet) copyOpen(b []byte, stones block.Intervals, capT int64) chunkSrc {
	if cap(ss.arena)-len(ss.arena) < len(b) {
		ss.arenaSrc = nil // copyTo starts a new buffer
	}
	c := copyTo(&ss.arena, b)
	ref := dataRef(len(ss.arena)-len(c), len(c))
	// data is the whole buffer: later copies land in it, in bytes no
	// earlier one uses.
	full := ss.arena[:cap(ss.arena)]
	if len(stones) > 0 || capT != math.MaxInt64 {
		return chunkSrc{ref: ref, src: ss.new(source{data: full, stones: stones, capT: capT})}
	}
	if ss.arenaSrc == nil {
		ss.arenaSrc = ss.new(source{data: full, capT: math.MaxInt64})
	}
	return chunkSrc{ref: ref, src: ss.arenaSrc}
}

// snapshot appends the chunks of the series overlapping [mint, maxt] as a
// reader with snapshot st sees them, with their sources from ss; with
// past, the samples older than the head's lower bound too (a query wants
// them, a head cut does not: flushPast writes them).
func (s *memSeries) snapshot(dst []chunkSrc, ss *sourceSet, hc *chunks.HeadChunks, mint, maxt int64, st *isoState, past bool) []chunkSrc {
	s.mu.Lock()
	defer s.mu.Unlock()
	capT := s.capFor(st)
	hi := min(maxt, capT)
	stones := s.stones()
	var hs *source
	for _, m := range s.mmapped {
		if m.Overlaps(mint, hi) {
			if hs == nil {
				hs = ss.headChunks(hc, stones, capT)
			}
			dst = append(dst, chunkSrc{minT: m.MinT, maxT: m.MaxT, ref: m.Ref, src: hs})
		}
	}
	if x := s.extra; x != nil {
		for _, c := range x.unmapped {
			if c.minT <= hi && c.maxT >= mint {
				src := ss.new(source{data: c.data, stones: stones, capT: capT})
				dst = append(dst, chunkSrc{minT: c.minT, maxT: c.maxT, ref: memRef(c.data), src: src})
			}
		}
	}
	if s.openN > 0 && s.openMinT <= hi && s.maxT >= mint {
		c := ss.copyOpen(s.open.Bytes(), stones, capT)
		c.minT, c.maxT = s.openMinT, s.maxT
		dst = append(dst, c)
	}
	if s.is(flagHistOpen) && s.extra.hist.minT <= hi && s.maxT >= mint {
		// The histogram chunk's bytes are built for the reader: they
		// are its own.
		data := s.extra.hist.w.bytes()
		src := ss.new(source{data: data, stones: stones, capT: capT})
		dst = append(dst, chunkSrc{minT: s.extra.hist.minT, maxT: s.maxT, ref: memRef(data), src: src})
	}
	if o := s.ooo(); o != nil {
		dst = o.snapshot(dst, ss, mint, maxt, stones)
	}
	if p := s.past(); p != nil && past {
		dst = p.snapshot(dst, ss, mint, maxt, stones)
	}
	return dst
}

// copyTo returns a copy of b in *arena. When the arena is full, a new one
// twice as large replaces it (up to 1 MiB); the earlier copies stay where
// they are, so they stay valid, and nothing is ever written over them.
func copyTo(arena *[]byte, b []byte) []byte {
	a := *arena
	if cap(a)-len(a) < len(b) {
		a = make([]byte, 0, max(min(2*cap(a), 1<<20), 512, len(b)))
	}
	n := len(a)
	a = append(a, b...)
	*arena = a
	return a[n:len(a):len(a)]
}
