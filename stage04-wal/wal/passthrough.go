package wal

import (
	"encoding/binary"
	"strings"
)

// A checkpoint keeps or drops most records whole: a head cut drops the
// samples before its lower bound, and a batch's samples (logged together,
// seconds apart) are nearly always all before it or all after it, and of
// series still in the head. Such a record is copied as it is, or dropped,
// after reading only what decides it (refs and timestamps, not values,
// nothing allocated); only a record with some samples on each side is
// decoded and written again. The checkpoint is the same, byte for byte,
// as decoding and re-encoding every record would make it (the encoding
// is deterministic), and costs a fraction of the CPU: it runs beside the
// writes, on the same cores.

// denseKept says whether a checkpoint keeps all or none of the samples of
// a dense samples record (keep(ref) and t ≥ mint), and how many it holds;
// some is true when it may keep some and drop others (its timestamps
// straddle mint, or its series are not all kept alike): the caller
// decodes the record. ok is false for a record it cannot read through (decoding
// reports the damage): it checks every column's shape, as decoding would.
// The columns are skipped by counting varint ends, and the refs read only
// when every timestamp is kept, so a record is decided in a fraction of
// the time decoding it takes.
func denseKept(rec []byte, keep func(uint64) bool, mint int64) (n int, all, some, ok bool) {
	if len(rec) == 0 || RecordType(rec[0]) != RecordDenseSamples {
		return 0, false, false, false
	}
	b := rec[1:]
	u, k := binary.Uvarint(b)
	if k <= 0 || u > uint64(len(b)/3) {
		return 0, false, false, false
	}
	n, b = int(u), b[k:]
	if n == 0 {
		return 0, false, false, len(b) == 0
	}
	refs, p := b, skipVarints(b, n)
	if p < 0 {
		return 0, false, false, false
	}
	refs = refs[:p]
	b = b[p:]
	t, k := binary.Varint(b)
	if k <= 0 {
		return 0, false, false, false
	}
	p = k
	lo, hi := t, t
	for i := 1; i < n; i++ {
		var d uint64
		if p < len(b) && b[p] < 0x80 {
			d = uint64(b[p])
			p++
		} else if d, p = uvarintAt(b, p); p < 0 {
			return 0, false, false, false
		}
		t = int64(uint64(t) + uint64(unzigzag(d)))
		lo, hi = min(lo, t), max(hi, t)
	}
	b = b[p:]
	if len(b) == 0 {
		return 0, false, false, false
	}
	e := int(b[0])
	b = b[1:]
	switch {
	case e == rawValues:
		if len(b) != 8*n {
			return 0, false, false, false
		}
	case e <= maxDecimals:
		if skipVarints(b, n) != len(b) {
			return 0, false, false, false
		}
	default:
		return 0, false, false, false
	}
	switch {
	case hi < mint:
		return n, false, false, true
	case lo < mint:
		return n, false, true, true
	}
	// Every timestamp is kept: the series decide.
	ref, p := binary.Uvarint(refs)
	kept, dropped := keep(ref), 0
	if !kept {
		dropped++
	}
	last := ref
	for i := 1; i < n; i++ {
		var d uint64
		if refs[p] < 0x80 { // refs holds exactly n varints
			d = uint64(refs[p])
			p++
		} else {
			d, p = uvarintAt(refs, p)
		}
		ref += uint64(unzigzag(d))
		if ref != last { // a batch's samples come series by series
			last, kept = ref, keep(ref)
		}
		if !kept {
			dropped++
		}
	}
	return n, dropped == 0, dropped > 0 && dropped < n, true
}

// skipVarints returns the position after the first n varints of b, -1 if
// b holds fewer (or one longer than binary.MaxVarintLen64, or one that
// overflows 64 bits).
func skipVarints(b []byte, n int) int {
	p, run := 0, 0
	for n > 0 {
		if p >= len(b) {
			return -1
		}
		if b[p] < 0x80 {
			if run == binary.MaxVarintLen64-1 && b[p] > 1 {
				return -1 // overflows 64 bits, as binary.Uvarint says
			}
			n--
			run = 0
		} else if run++; run >= binary.MaxVarintLen64 {
			return -1
		}
		p++
	}
	return p
}

// seriesKept counts the series of a series record that keep keeps, checking
// the record's shape as DecodeSeries does (labels not empty, names sorted
// and unique, nothing left over); ok is false where DecodeSeries would
// fail.
func seriesKept(rec []byte, keep func(uint64) bool) (n, kept int, ok bool) {
	d := decoder{b: rec}
	n = d.header(RecordSeries, 2)
	for i := 0; i < n && d.err == nil; i++ {
		ref := d.uvarint()
		k := d.uvarint()
		if d.err != nil || k > uint64(len(d.b)/4) {
			return 0, 0, false
		}
		var prev []byte
		for j := uint64(0); j < k; j++ {
			name, value := d.bytes(), d.bytes()
			if d.err != nil || len(name) == 0 || len(value) == 0 || j > 0 && strings.Compare(string(prev), string(name)) >= 0 {
				return 0, 0, false
			}
			prev = name
		}
		if keep(ref) {
			kept++
		}
	}
	if d.end() != nil {
		return 0, 0, false
	}
	return n, kept, true
}
