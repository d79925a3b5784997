package ingest

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// A Format is how a decoder wrote a series into a batch: the key bytes it
// chose (the raw measurement and tags of a line, the raw label fields of a
// remote-write series, a Pairs encoding …) and, per point, an optional
// suffix (the field of a line-protocol point). Keys are opaque to the
// pipeline; a sink uses them as cache keys, and calls Labels only for a
// series it has not seen, so the label set of a series is built once, not
// once per point.
//
// A Format must be comparable (a pointer or an empty struct): sinks keep
// one cache per Format.
type Format interface {
	Labels(key, suffix []byte) (model.Labels, error)
}

// A RowFormat is a Format whose series of one key share most of the work
// of building their label sets (a line's fields share its measurement and
// tags). A sink creating several series of one row asks Row once and the
// RowLabels for each suffix: when every series is new (a server starting,
// a fleet deployed), building label sets is most of a flush.
type RowFormat interface {
	Format
	Row(key []byte) (RowLabels, error)
}

// RowLabels builds the label sets of one key's series.
type RowLabels interface {
	Labels(suffix []byte) (model.Labels, error)
}

// labeler builds the label sets of a batch's new series for a sink, a
// row's key parsed once for all its suffixes when its format is a
// RowFormat. Its zero value is not ready: use newLabeler. It is for the
// one goroutine running Sink.Write.
type labeler struct {
	row int32
	rl  RowLabels
	err error
}

func newLabeler() labeler { return labeler{row: -1} }

// labels is the label set of point i's series (Batch.Labels).
func (l *labeler) labels(b *Batch, i int) (model.Labels, error) {
	r := b.points[i].Row
	key, f := b.Key(r)
	rf, ok := f.(RowFormat)
	if !ok {
		return f.Labels(key, b.Suffix(i))
	}
	if r != l.row {
		l.row = r
		l.rl, l.err = rf.Row(key)
	}
	if l.err != nil {
		return model.Labels{}, l.err
	}
	return l.rl.Labels(b.Suffix(i))
}

// Point is one sample of a batch: the series row it belongs to, its
// suffix (an offset into the batch's bytes, 0 for none) and the sample.
type Point struct {
	Row    int32
	suffix uint32 // 1 + offset of a uvarint-length-prefixed suffix in Batch.buf; 0: none
	T      int64  // ms since the epoch
	V      float64
}

// row is one series key in a batch: its bytes in Batch.buf and its format.
type row struct {
	off, n uint32
	f      Format
}

// waiter is one write whose points [from, to) are in a batch.
type waiter struct {
	ack      *ack
	from, to int32
}

// refusal is one point a sink refused.
type refusal struct {
	i   int32
	err error
}

// Batch is a sealed (or filling) group of points from any number of
// writes, the unit a flusher hands to a Sink. Its memory (the key bytes,
// the rows, the points) is reused from one batch to the next through a
// pool, so a warmed-up pipeline allocates nothing per point.
//
// A sink reads it with Len, At, Key, Suffix and Labels, and reports a point
// it could not store with Refuse; everything else is the pipeline's.
type Batch struct {
	buf     []byte
	rows    []row
	points  []Point
	waiters []waiter
	refused []refusal
	created time.Time
	seq     uint64 // order of sealing, for tests and the bench's counters
}

// batchPool is the free list of batches: a Ring too, so taking and
// returning a batch is lock-free (sync.Pool takes a global lock the first
// time each P uses it after a GC). A batch is allocated only when the list
// is empty, and dropped when it is full.
type batchPool struct{ free *Ring[*Batch] }

func newBatchPool(n int) batchPool { return batchPool{NewRing[*Batch](n)} }

func (bp batchPool) get() *Batch {
	b, ok := bp.free.Pop()
	if !ok {
		b = &Batch{buf: make([]byte, 0, 64<<10)}
	}
	b.created = time.Now()
	return b
}

func (bp batchPool) put(b *Batch) {
	clear(b.rows) // drop the Format interfaces
	clear(b.waiters)
	clear(b.refused)
	b.buf, b.rows, b.points, b.waiters, b.refused = b.buf[:0], b.rows[:0], b.points[:0], b.waiters[:0], b.refused[:0]
	bp.free.Push(b)
}

// Len is the number of points.
func (b *Batch) Len() int { return len(b.points) }

// Rows is the number of series rows (a series appears once per write that
// wrote it, and may appear in several rows).
func (b *Batch) Rows() int { return len(b.rows) }

// At is point i.
func (b *Batch) At(i int) *Point { return &b.points[i] }

// Key returns the key bytes and the format of row r. The bytes are the
// batch's: valid until Sink.Write returns.
func (b *Batch) Key(r int32) ([]byte, Format) {
	rw := &b.rows[r]
	return b.buf[rw.off : rw.off+rw.n : rw.off+rw.n], rw.f
}

// Suffix is the suffix of point i (nil when it has none).
func (b *Batch) Suffix(i int) []byte {
	p := &b.points[i]
	if p.suffix == 0 {
		return nil
	}
	off := int(p.suffix - 1)
	n, k := binary.Uvarint(b.buf[off:])
	start, end := off+k, off+k+int(n)
	return b.buf[start:end:end]
}

// Labels builds the label set of point i's series through its format.
func (b *Batch) Labels(i int) (model.Labels, error) {
	key, f := b.Key(b.points[i].Row)
	return f.Labels(key, b.Suffix(i))
}

// Refuse records that the sink did not store point i, and why (out of
// order, invalid series …). The write that sent the point learns it from
// its Result. Refuse is for the one goroutine running Sink.Write.
func (b *Batch) Refuse(i int, err error) {
	b.refused = append(b.refused, refusal{int32(i), err})
}

// Age is how long ago the batch was started.
func (b *Batch) Age() time.Duration { return time.Since(b.created) }

// addRow appends a row with a copy of key.
func (b *Batch) addRow(f Format, key []byte) {
	off := len(b.buf)
	b.buf = append(b.buf, key...)
	b.rows = append(b.rows, row{off: uint32(off), n: uint32(len(key)), f: f})
}

// addPoint appends a point to the last row, copying its suffix (a field
// name: short, so copying is cheaper than looking for an earlier copy).
func (b *Batch) addPoint(suffix []byte, t int64, v float64) {
	p := Point{Row: int32(len(b.rows) - 1), T: t, V: v}
	if len(suffix) > 0 {
		p.suffix = uint32(len(b.buf) + 1)
		b.buf = binary.AppendUvarint(b.buf, uint64(len(suffix)))
		b.buf = append(b.buf, suffix...)
	}
	b.points = append(b.points, p)
}

// truncate drops the rows and points from (rows, points) on: an aborted
// write's tail.
func (b *Batch) truncate(rows, points, bufLen int) {
	clear(b.rows[rows:])
	b.rows, b.points, b.buf = b.rows[:rows], b.points[:points], b.buf[:bufLen]
}

func (b *Batch) String() string {
	return fmt.Sprintf("batch %d: %d points, %d rows, %d waiters", b.seq, len(b.points), len(b.rows), len(b.waiters))
}
