package delta

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ColumnWriter writes a series' two columns (AppendTimestamps then
// AppendValues, byte for byte) with its scratch reused from call to
// call, so that a caller encoding many series (stage06's compaction into
// cold chunks) allocates nothing per series. The zero value is ready; one
// is not safe for concurrent use.
type ColumnWriter struct {
	u   []uint64
	exc []int
}

// AppendColumns appends the timestamp column of ts and then the value
// column of vs (len(ts) == len(vs) ≥ 1) in layout, and returns the grown
// dst and the size the two columns take in the Packed layout: what was
// appended when layout is Packed, and, under BytePlanes, what the packed
// form would take, priced from the same integers without writing it, so
// that a caller can keep the smaller of "planes then a compressor" and
// "packed" without encoding twice.
func (w *ColumnWriter) AppendColumns(dst []byte, ts []int64, vs []float64, layout Layout) ([]byte, int, error) {
	return w.appendColumns(dst, ts, vs, layout, true)
}

// AppendPlanes is AppendColumns in the BytePlanes layout that returns,
// instead of the packed size, a lower bound of it, summed up alongside
// the planes: varint's size exactly, and Simple-8b's words at least (each
// value's least share of a word, s8bShare), where pricing Simple-8b
// exactly (packing it) takes two thirds of the columns' time. A caller choosing between "planes then
// a compressor" and "packed" needs the exact size only when the
// compressed form is not below the bound.
func (w *ColumnWriter) AppendPlanes(dst []byte, ts []int64, vs []float64) ([]byte, int, error) {
	return w.appendColumns(dst, ts, vs, BytePlanes, false)
}

func (w *ColumnWriter) appendColumns(dst []byte, ts []int64, vs []float64, layout Layout, exact bool) ([]byte, int, error) {
	n := len(ts)
	if n == 0 || n != len(vs) {
		return dst, 0, fmt.Errorf("delta: columns of %d timestamps and %d values", len(ts), len(vs))
	}
	if cap(w.u) < n {
		w.u = make([]uint64, n)
	}
	start := len(dst)
	adjust := 0 // packed size minus written size, column by column

	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts[0]))
	u := w.u[:n-1] // empty for one sample: the column is still framed
	timestampInts(u, ts)
	dst, d := appendIntsPriced(dst, u, layout, exact)
	adjust += d

	u = w.u[:n]
	e := chooseExponent(vs)
	w.exc = valueInts(u, vs, e, w.exc[:0])
	dst = append(dst, byte(e))
	dst, d = appendIntsPriced(dst, u, layout, exact)
	adjust += d
	dst = AppendUvarint(dst, uint64(len(w.exc)))
	last := -1
	for _, p := range w.exc {
		dst = AppendUvarint(dst, uint64(p-last-1))
		last = p
	}
	for _, p := range w.exc {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(vs[p]))
	}
	return dst, len(dst) - start + adjust, nil
}

// appendIntsPriced appends one integer column as appendIntsLayout does
// and returns how many bytes more (or fewer) its Packed form takes; with
// exact unset (BytePlanes only), a lower bound of that.
func appendIntsPriced(dst []byte, u []uint64, layout Layout, exact bool) ([]byte, int) {
	if !exact {
		before := len(dst)
		dst, packed := appendPlanesColumn(dst, u)
		return dst, 1 + UvarintLen(uint64(packed)) + packed - (len(dst) - before)
	}
	vlen := 0
	for _, x := range u {
		vlen += UvarintLen(x)
	}
	slen := Simple8bLen(u)
	if layout == BytePlanes {
		packed := min(vlen, slen)
		before := len(dst)
		dst, _ = appendPlanesColumn(dst, u)
		return dst, 1 + UvarintLen(uint64(packed)) + packed - (len(dst) - before)
	}
	if vlen < slen {
		dst = append(dst, byte(Varint))
		dst = AppendUvarint(dst, uint64(vlen))
		for _, x := range u {
			dst = AppendUvarint(dst, x)
		}
		return dst, 0
	}
	dst = append(dst, byte(Simple8b))
	dst = AppendUvarint(dst, uint64(slen))
	return AppendSimple8b(dst, u), 0
}
