package wal

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tsdb-course/stage01-memstore/model"
)

// RecordType is the first byte of a record. The WAL itself only reserves 0;
// types 1-3 are the TSDB records below, other values are free for other
// users of the log (stage07's cache, say). Types 7 and 8 are the native
// histogram samples (histrecord.go), 32 the dense samples (dense.go).
type RecordType byte

// Record types of a TSDB head's WAL.
const (
	RecordSeries  RecordType = 1 // new series: ref → label set
	RecordSamples RecordType = 2 // a batch of samples
	RecordDeletes RecordType = 3 // tombstones: ref, time range
)

func (t RecordType) String() string {
	switch t {
	case RecordSeries:
		return "series"
	case RecordSamples:
		return "samples"
	case RecordDeletes:
		return "deletes"
	case RecordHistograms:
		return "histograms"
	case RecordFloatHistograms:
		return "float histograms"
	case RecordDenseSamples:
		return "dense samples"
	}
	return fmt.Sprintf("type %d", byte(t))
}

// Type is the type of a record, 0 for an empty one.
func Type(rec []byte) RecordType {
	if len(rec) == 0 {
		return 0
	}
	return RecordType(rec[0])
}

// RefSeries introduces a series: later records refer to it by Ref, a number
// the head assigns, so samples do not repeat the label set.
type RefSeries struct {
	Ref    uint64
	Labels model.Labels
}

// RefSample is one sample of the series Ref; T is in milliseconds.
type RefSample struct {
	Ref uint64
	T   int64
	V   float64
}

// Tombstone deletes the samples of series Ref with Mint ≤ t ≤ Maxt.
type Tombstone struct {
	Ref        uint64
	Mint, Maxt int64
}

// All three encodings start with the type byte and a uvarint count, so a
// decoder can size its output once and reject a count the bytes cannot hold.
//
// Series:     type=1 | uvarint n | n × (uvarint ref | uvarint k | k × (uvarint len | name | uvarint len | value))
// Samples:    type=2 | uvarint n | uvarint ref0 | varint t0 | 8-byte LE value bits
//                                | (n-1) × (varint ref-ref0 | varint t-t0 | 8-byte LE value bits)
// Tombstones: type=3 | uvarint n | n × (uvarint ref | varint mint | varint maxt)
//
// varint is zig-zag (encoding/binary's PutVarint). Why deltas against the
// first sample rather than the previous: a batch is usually one scrape, many
// series at one timestamp, so t-t0 is 0 (one byte) for every sample, ref-ref0
// is small, and each sample decodes independently of its neighbour. Values
// stay raw: compressing them is the chunk's job (stage03), and replay speed
// matters more here than the last byte.

// AppendSeries appends the encoding of series to dst.
func AppendSeries(dst []byte, series []RefSeries) []byte {
	dst = append(dst, byte(RecordSeries))
	dst = binary.AppendUvarint(dst, uint64(len(series)))
	for _, s := range series {
		dst = binary.AppendUvarint(dst, s.Ref)
		dst = binary.AppendUvarint(dst, uint64(s.Labels.Len()))
		for i := range s.Labels.Len() { // not All: its closure per label costs more than the encoding
			l := s.Labels.At(i)
			dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
			dst = append(dst, l.Name...)
			dst = binary.AppendUvarint(dst, uint64(len(l.Value)))
			dst = append(dst, l.Value...)
		}
	}
	return dst
}

// AppendSamples appends the encoding of samples to dst.
func AppendSamples(dst []byte, samples []RefSample) []byte {
	dst = append(dst, byte(RecordSamples))
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	if len(samples) == 0 {
		return dst
	}
	first := samples[0]
	dst = binary.AppendUvarint(dst, first.Ref)
	dst = binary.AppendVarint(dst, first.T)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(first.V))
	for _, s := range samples[1:] {
		// Wrapping subtraction: decoding adds it back with the same
		// wrap, so any pair of refs or timestamps round-trips.
		dst = binary.AppendVarint(dst, int64(s.Ref-first.Ref))
		dst = binary.AppendVarint(dst, s.T-first.T)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.V))
	}
	return dst
}

// AppendTombstones appends the encoding of tombstones to dst.
func AppendTombstones(dst []byte, stones []Tombstone) []byte {
	dst = append(dst, byte(RecordDeletes))
	dst = binary.AppendUvarint(dst, uint64(len(stones)))
	for _, s := range stones {
		dst = binary.AppendUvarint(dst, s.Ref)
		dst = binary.AppendVarint(dst, s.Mint)
		dst = binary.AppendVarint(dst, s.Maxt)
	}
	return dst
}

// decoder reads varints from a record, remembering the first error so the
// decode loops stay readable.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: record: %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail("value cut short")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("string longer than record")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// header checks the type byte and reads the count, which must be possible
// for the bytes left given that each item takes at least minItem bytes.
func (d *decoder) header(t RecordType, minItem int) int {
	if len(d.b) == 0 || RecordType(d.b[0]) != t {
		d.fail(fmt.Sprintf("not a %s record", t))
		return 0
	}
	d.b = d.b[1:]
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minItem) {
		d.fail(fmt.Sprintf("count %d does not fit in %d bytes", n, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}

// DecodeSeries decodes a series record, appending to dst[:0] (pass the
// previous result back in to reuse its memory). Label sets must be in the
// canonical form AppendSeries writes (names sorted and unique, nothing
// empty), so decode∘encode is the identity.
func DecodeSeries(rec []byte, dst []RefSeries) ([]RefSeries, error) {
	dst = dst[:0]
	d := decoder{b: rec}
	n := d.header(RecordSeries, 2)
	var pairs []model.Label
	for i := 0; i < n && d.err == nil; i++ {
		ref := d.uvarint()
		k := d.uvarint()
		if d.err == nil && k > uint64(len(d.b)/4) {
			d.fail(fmt.Sprintf("series %d: %d labels do not fit", ref, k))
			break
		}
		pairs = pairs[:0]
		for j := uint64(0); j < k && d.err == nil; j++ {
			name, value := d.bytes(), d.bytes()
			switch {
			case d.err != nil:
			case len(name) == 0 || len(value) == 0:
				d.fail(fmt.Sprintf("series %d: empty label name or value", ref))
			case j > 0 && pairs[j-1].Name >= string(name):
				d.fail(fmt.Sprintf("series %d: labels not sorted", ref))
			default:
				pairs = append(pairs, model.Label{Name: string(name), Value: string(value)})
			}
		}
		if d.err != nil {
			break
		}
		ls, err := model.New(pairs...)
		if err != nil {
			d.fail(fmt.Sprintf("series %d: %v", ref, err))
			break
		}
		dst = append(dst, RefSeries{Ref: ref, Labels: ls})
	}
	if err := d.end(); err != nil {
		return dst[:0], err
	}
	return dst, nil
}

// DecodeSamples decodes a samples record of either form (RecordSamples
// or RecordDenseSamples), appending to dst[:0]. It allocates only when dst
// is too small, which makes replay allocation-free.
func DecodeSamples(rec []byte, dst []RefSample) ([]RefSample, error) {
	dst = dst[:0]
	if Type(rec) == RecordDenseSamples {
		return decodeDenseSamples(rec, dst)
	}
	d := decoder{b: rec}
	n := d.header(RecordSamples, 10)
	if n == 0 || d.err != nil {
		return dst, d.end()
	}
	dst = growSamples(dst, n)
	ref0 := d.uvarint()
	t0 := d.varint()
	dst = append(dst, RefSample{Ref: ref0, T: t0, V: d.float()})
	for i := 1; i < n && d.err == nil; i++ {
		// Fast path for the common sample (deltas of one or two bytes
		// each, as in a scrape): no calls, one bounds check. Replay time
		// is mostly this loop.
		if b := d.b; len(b) >= 12 {
			dr, k := shortVarint(b)
			if k > 0 {
				dt, m := shortVarint(b[k:])
				if m > 0 {
					v := math.Float64frombits(binary.LittleEndian.Uint64(b[k+m:]))
					d.b = b[k+m+8:]
					dst = append(dst, RefSample{Ref: ref0 + uint64(dr), T: t0 + dt, V: v})
					continue
				}
			}
		}
		dr := d.varint()
		dt := d.varint()
		v := d.float()
		dst = append(dst, RefSample{Ref: ref0 + uint64(dr), T: t0 + dt, V: v})
	}
	if err := d.end(); err != nil {
		return dst[:0], err
	}
	return dst, nil
}

// shortVarint decodes a zig-zag varint of one or two bytes at the start
// of b (len(b) ≥ 2), returning k = 0 for a longer one.
func shortVarint(b []byte) (int64, int) {
	var u uint64
	k := 0
	switch {
	case b[0] < 0x80:
		u, k = uint64(b[0]), 1
	case b[1] < 0x80:
		u, k = uint64(b[0]&0x7f)|uint64(b[1])<<7, 2
	default:
		return 0, 0
	}
	return int64(u>>1) ^ -int64(u&1), k
}

func growSamples(dst []RefSample, n int) []RefSample {
	if cap(dst) < n {
		return make([]RefSample, 0, n)
	}
	return dst
}

// DecodeTombstones decodes a deletes record, appending to dst[:0].
func DecodeTombstones(rec []byte, dst []Tombstone) ([]Tombstone, error) {
	dst = dst[:0]
	d := decoder{b: rec}
	n := d.header(RecordDeletes, 3)
	if cap(dst) < n {
		dst = make([]Tombstone, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		ref := d.uvarint()
		mint := d.varint()
		maxt := d.varint()
		dst = append(dst, Tombstone{Ref: ref, Mint: mint, Maxt: maxt})
	}
	if err := d.end(); err != nil {
		return dst[:0], err
	}
	return dst, nil
}
