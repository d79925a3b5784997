package tsdb

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// clock is a settable clock for Options.Now.
type clock struct{ ms int64 }

func (c *clock) now() time.Time { return time.UnixMilli(c.ms) }

// nowMs is the tests' "now": 2024-06-01T00:00:00Z.
const nowMs int64 = 1717200000000

// appendOne appends one sample in a batch of its own and commits.
func appendOne(db *DB, l model.Labels, t int64, v float64) error {
	app := db.Appender(nil)
	if _, err := app.Append(0, l, t, v); err != nil {
		app.Rollback()
		return err
	}
	return app.Commit()
}

// TestAppendTimeBounds: samples older than the retention or further
// ahead of the clock than the grace are refused with ErrTooOld / ErrTooNew,
// at the edges exactly; timestamps past ±2^62 always are, and the extreme
// values a client may send (math.MinInt64 with value 0, which a new series
// once took for its own "no sample yet" marker, and math.MaxInt64) get a
// clear error instead of an answer that stores nothing or names the wrong
// problem. The bounds themselves are stored and read back.
func TestAppendTimeBounds(t *testing.T) {
	c := &clock{ms: nowMs}
	opts := testOpts()
	opts.Now = c.now
	opts.RetentionTime = 15 * 24 * Hour
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	oldest := nowMs - opts.RetentionTime
	for i, tc := range []struct {
		t    int64
		v    float64
		want error
	}{
		{nowMs, 1, nil},
		{nowMs + DefaultFutureGrace, 1, nil},
		{nowMs + DefaultFutureGrace + 1, 1, ErrTooNew},
		{nowMs + 30*24*Hour, 1, ErrTooNew},
		{math.MaxInt64, 1, ErrTooNew},
		{oldest, 1, nil},
		{oldest - 1, 1, ErrTooOld},
		{math.MinInt64, 0, ErrTooOld},
		{math.MinInt64, 1, ErrTooOld},
	} {
		err := appendOne(db, lbls("bounds", "case", fmt.Sprint(i)), tc.t, tc.v)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("t=%d v=%v: %v, want %v", tc.t, tc.v, err, tc.want)
		}
	}
	// The clock moves: what was too new is accepted, what was kept is now
	// too old.
	c.ms += Hour
	if err := appendOne(db, lbls("bounds", "case", "later"), nowMs+DefaultFutureGrace+1, 1); err != nil {
		t.Errorf("an hour later, a sample then too new: %v", err)
	}
	if err := appendOne(db, lbls("bounds", "case", "later"), oldest, 1); !errors.Is(err, ErrTooOld) {
		t.Errorf("an hour later, a sample at the old retention edge: %v, want ErrTooOld", err)
	}

	// Without retention and grace, the representable range's ends are
	// stored and read back, value 0 included.
	o := oracle{}
	opts = testOpts()
	opts.FutureGrace = -1
	db2 := openDB(t, t.TempDir(), opts)
	defer db2.Close()
	for i, ts := range []int64{MinTimestamp, MaxTimestamp} {
		l := lbls("edge", "i", fmt.Sprint(i))
		if err := appendOne(db2, l, ts, 0); err != nil {
			t.Fatalf("t=%d: %v", ts, err)
		}
		o.add(l, ts, 0)
	}
	for _, ts := range []int64{MinTimestamp - 1, math.MinInt64} {
		if err := appendOne(db2, lbls("edge", "i", "x"), ts, 0); !errors.Is(err, ErrTooOld) {
			t.Errorf("t=%d: %v, want ErrTooOld", ts, err)
		}
	}
	for _, ts := range []int64{MaxTimestamp + 1, math.MaxInt64} {
		if err := appendOne(db2, lbls("edge", "i", "x"), ts, 0); !errors.Is(err, ErrTooNew) {
			t.Errorf("t=%d: %v, want ErrTooNew", ts, err)
		}
	}
	equalResults(t, collect(t, db2, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	// Both ends in the head, 2^63 ms apart: flushing it writes two blocks,
	// one per range that holds a sample.
	st, err := db2.FlushHead()
	if err != nil || len(st) != 2 {
		t.Fatalf("flush: %d blocks, %v; want 2", len(st), err)
	}
	equalResults(t, collect(t, db2, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
}

// TestAppendDuplicates: Prometheus's rules. The newest sample of a series
// again, same timestamp and same value bits, is accepted and stored once,
// whether it comes in the same batch or a later one; the same timestamp
// with another value is ErrDuplicate; an older timestamp is ErrOutOfOrder.
// Only what is accepted is stored.
func TestAppendDuplicates(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	o := oracle{}
	l := lbls("dup")
	nan := math.Float64frombits(0x7ff8000000000002) // not math.NaN()'s bits

	app := db.Appender(nil)
	steps := []struct {
		t    int64
		v    float64
		want error
	}{
		{1000, 1, nil},
		{1000, 1, nil},                   // identical, same batch
		{1000, 2, ErrDuplicate},          // same batch, another value
		{2000, nan, nil},                 //
		{2000, nan, nil},                 // the same NaN bits
		{2000, math.NaN(), ErrDuplicate}, // another NaN: other bits
		{1500, 1, ErrOutOfOrder},
	}
	for _, s := range steps {
		_, err := app.Append(0, l, s.t, s.v)
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Fatalf("batch 1, t=%d v=%v: %v, want %v", s.t, s.v, err, s.want)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	o.add(l, 1000, 1)
	o.add(l, 2000, nan)

	app = db.Appender(nil)
	for _, s := range []struct {
		t    int64
		v    float64
		want error
	}{
		{2000, nan, nil},         // identical to the stored newest sample
		{2000, 3, ErrDuplicate},  // stored timestamp, another value
		{1000, 1, ErrOutOfOrder}, // an older stored sample: not the newest
		{3000, 4, nil},
		{3000, 4, nil},
	} {
		if _, err := app.Append(0, l, s.t, s.v); s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Fatalf("batch 2, t=%d v=%v: %v, want %v", s.t, s.v, err, s.want)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	o.add(l, 3000, 4)
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	if got := db.Head().Stats().SamplesAppended; got != 3 {
		t.Fatalf("%d samples counted as appended, want 3", got)
	}
}

// TestCommitConflicts: two appenders on one series. What the second
// commits is settled against what the first committed: the same sample is
// stored once and no error; another value at the same timestamp, or a
// timestamp the first overtook, is not stored and Commit says so
// (*CommitError, matching ErrDuplicate / ErrOutOfOrder) while the rest of
// its batch is stored; a sample whose rival rolled back is stored.
func TestCommitConflicts(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	o := oracle{}
	other := lbls("other")
	for i, tc := range []struct {
		name             string
		at, bt           int64
		av, bv           float64
		aRollback        bool
		wantErr          error
		wantA, wantB     bool // stored
		wantDup, wantOOO int
	}{
		{name: "same sample", at: 1000, av: 1, bt: 1000, bv: 1, wantA: true},
		{name: "same time, other value", at: 1000, av: 1, bt: 1000, bv: 2, wantErr: ErrDuplicate, wantA: true, wantDup: 1},
		{name: "overtaken", at: 2000, av: 1, bt: 1000, bv: 2, wantErr: ErrOutOfOrder, wantA: true, wantOOO: 1},
		{name: "rival rolled back", at: 1000, av: 1, bt: 1000, bv: 2, aRollback: true, wantB: true},
	} {
		l := lbls("conflict", "case", fmt.Sprint(i))
		// b appends first, a second (a's sample is accepted whatever b
		// claimed: b has not committed), a commits first.
		a, b := db.Appender(nil), db.Appender(nil)
		if _, err := b.Append(0, l, tc.bt, tc.bv); err != nil {
			t.Fatalf("%s: b: %v", tc.name, err)
		}
		if _, err := a.Append(0, l, tc.at, tc.av); err != nil {
			t.Fatalf("%s: a: %v", tc.name, err)
		}
		if _, err := b.Append(0, other, int64(i+1)*1000, float64(i)); err != nil {
			t.Fatalf("%s: b, other series: %v", tc.name, err)
		}
		o.add(other, int64(i+1)*1000, float64(i))
		if tc.aRollback {
			a.Rollback()
		} else if err := a.Commit(); err != nil {
			t.Fatalf("%s: a commit: %v", tc.name, err)
		}
		err := b.Commit()
		var ce *CommitError
		switch {
		case tc.wantErr == nil && err != nil:
			t.Fatalf("%s: b commit: %v", tc.name, err)
		case tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !errors.As(err, &ce)):
			t.Fatalf("%s: b commit: %v, want a *CommitError matching %v", tc.name, err, tc.wantErr)
		case ce != nil && (ce.Duplicate != tc.wantDup || ce.OutOfOrder != tc.wantOOO || ce.OutOfBounds != 0):
			t.Fatalf("%s: %+v", tc.name, *ce)
		}
		if tc.wantA {
			o.add(l, tc.at, tc.av)
		}
		if tc.wantB {
			o.add(l, tc.bt, tc.bv)
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	}
}

// TestHeadChunkWriteFailure: while the head-chunks file refuses writes (a
// full disk), full chunks stay in memory and every sample stays readable,
// no Commit fails for it, and once the file takes writes again the kept
// chunks are written first; a restart replays nothing twice and loses
// nothing, and compaction writes the same samples to a block. The same
// with a chunk write queue, whose goroutine meets the refusals.
func TestHeadChunkWriteFailure(t *testing.T) {
	for _, queue := range []int{0, 1000} {
		t.Run(fmt.Sprintf("queue=%d", queue), func(t *testing.T) { testHeadChunkWriteFailure(t, queue) })
	}
}

func testHeadChunkWriteFailure(t *testing.T, queue int) {
	dir := t.TempDir()
	opts := testOpts()
	opts.ChunkWriteQueue = queue
	db := openDB(t, dir, opts)
	// settle waits for the queue's writes: before a count, and before the
	// hook changes under its goroutine.
	settle := func() {
		if db.head.cq != nil {
			db.head.cq.drain()
		}
	}
	o := oracle{}
	ingest(t, db, o, 5, 0, 1000, 130) // each series fills a chunk: 5 in the file
	full := fmt.Errorf("write: %w", errNoSpace)
	settle()
	db.head.writeChunk = func(uint64, int64, int64, []byte) (chunks.Ref, error) { return 0, full }
	ingest(t, db, o, 5, 130_000, 1000, 250) // two more full chunks per series, refused
	settle()
	st := db.Head().Stats()
	if st.UnmappedChunks != 10 || st.ChunkWriteErrors == 0 || !errors.Is(db.Head().ChunkWriteError(), errNoSpace) {
		t.Fatalf("unmapped %d, errors %d, last %v; want 10 unmapped", st.UnmappedChunks, st.ChunkWriteErrors, db.Head().ChunkWriteError())
	}
	// 10 chunks of 120 samples, each at least a byte a sample: counted.
	if u := db.Head().Memory().Unmapped; u < 10*SamplesPerChunk {
		t.Fatalf("HeadMemory counts %d bytes of 10 unmapped chunks", u)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))

	db.head.writeChunk = db.head.hc.Write // space again
	ingest(t, db, o, 5, 380_000, 1000, 120)
	settle()
	st = db.Head().Stats()
	if st.UnmappedChunks != 0 || st.MappedChunks != 20 {
		t.Fatalf("after the disk has room: %d unmapped, %d mapped; want 0 and 20", st.UnmappedChunks, st.MappedChunks)
	}
	if u := db.Head().Memory().Unmapped; u != 0 {
		t.Fatalf("HeadMemory counts %d unmapped bytes, want 0", u)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = reopenRemapped(t, dir, opts, o, 20)
	defer db.Close()

	// Chunks kept in memory at a crash are replayed from the WAL.
	settle()
	db.head.writeChunk = func(uint64, int64, int64, []byte) (chunks.Ref, error) { return 0, full }
	ingest(t, db, o, 5, 500_000, 1000, 240)
	settle()
	if db.Head().Stats().UnmappedChunks == 0 {
		t.Fatal("no chunk kept in memory")
	}
	db.Close()
	db = openDB(t, dir, opts)
	defer db.Close()
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
}

var errNoSpace = errors.New("no space left on device")
