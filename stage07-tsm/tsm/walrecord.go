package tsm

import (
	"encoding/binary"
	"fmt"

	"github.com/tsdb-course/stage04-wal/wal"
)

// The engine's records in the stage04 WAL. The WAL stores opaque records
// whose first byte is a type; 1-3 are stage04's own (series, samples,
// tombstones of a Prometheus-style head, which refer to series by number).
// A TSM engine has no series numbers, so it logs keys by name with its own
// types:
//
//	write  (0x10): uvarint nkeys, then per key:
//	               uvarint len | key | u8 type | uvarint n |
//	               varint t0 | (n-1) × varint (t[i]-t[i-1]) |
//	               n values: float 8 bytes LE bits | integer varint |
//	               unsigned uvarint | boolean 1 byte | string uvarint len, bytes
//	delete (0x11): varint min | varint max | uvarint nkeys |
//	               nkeys × (uvarint len | key)
//
// One write record is one Batch: grouped by key, so a key costs its bytes
// once per batch, and timestamps cost a byte or two each.
const (
	recordWrite  wal.RecordType = 0x10
	recordDelete wal.RecordType = 0x11
)

// appendWriteRecord appends the WAL record of b to dst.
func appendWriteRecord(dst []byte, b *Batch) []byte {
	dst = append(dst, byte(recordWrite))
	dst = binary.AppendUvarint(dst, uint64(len(b.keys)))
	for i, k := range b.keys {
		v := &b.vals[i]
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = append(dst, byte(v.Type))
		dst = binary.AppendUvarint(dst, uint64(v.Len()))
		prev := int64(0)
		for _, t := range v.T {
			dst = binary.AppendVarint(dst, t-prev)
			prev = t
		}
		switch v.Type {
		case FloatType:
			for _, x := range v.V {
				dst = binary.LittleEndian.AppendUint64(dst, x)
			}
		case IntegerType:
			for _, x := range v.V {
				dst = binary.AppendVarint(dst, int64(x))
			}
		case UnsignedType:
			for _, x := range v.V {
				dst = binary.AppendUvarint(dst, x)
			}
		case BooleanType:
			for _, x := range v.V {
				dst = append(dst, byte(x))
			}
		case StringType:
			for _, s := range v.S {
				dst = binary.AppendUvarint(dst, uint64(len(s)))
				dst = append(dst, s...)
			}
		}
	}
	return dst
}

// recReader decodes a record without panicking on damage.
type recReader struct {
	b   []byte
	err error
}

func (r *recReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: WAL record: bad %s", ErrCorrupt, what)
	}
}

func (r *recReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) bytes(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

// decodeWriteRecord decodes a write record into b (reset first).
func decodeWriteRecord(rec []byte, b *Batch) error {
	b.Reset()
	if len(rec) == 0 || wal.RecordType(rec[0]) != recordWrite {
		return fmt.Errorf("%w: not a write record", ErrCorrupt)
	}
	r := &recReader{b: rec[1:]}
	nkeys := r.uvarint("key count")
	for i := uint64(0); i < nkeys && r.err == nil; i++ {
		key := r.bytes(r.uvarint("key length"), "key")
		tb := r.bytes(1, "type")
		n := r.uvarint("value count")
		if r.err != nil {
			break
		}
		t := Type(tb[0])
		// Every value takes at least one byte: a count beyond the record's
		// length is damage, and must not drive an allocation.
		if !t.valid() || n == 0 || n > uint64(len(r.b)) || len(key) == 0 {
			return fmt.Errorf("%w: WAL record: key entry (type %d, %d values)", ErrCorrupt, tb[0], n)
		}
		ts := make([]int64, n)
		prev := int64(0)
		for j := range ts {
			prev += r.varint("timestamp")
			ts[j] = prev
		}
		for j := range ts {
			var bits uint64
			var s string
			switch t {
			case FloatType:
				if p := r.bytes(8, "float"); p != nil {
					bits = binary.LittleEndian.Uint64(p)
				}
			case IntegerType:
				bits = uint64(r.varint("integer"))
			case UnsignedType:
				bits = r.uvarint("unsigned")
			case BooleanType:
				if p := r.bytes(1, "boolean"); p != nil {
					if p[0] > 1 {
						r.fail("boolean")
					}
					bits = uint64(p[0])
				}
			case StringType:
				s = string(r.bytes(r.uvarint("string length"), "string"))
			}
			if r.err != nil {
				break
			}
			if err := b.Add(key, t, ts[j], bits, s); err != nil {
				return fmt.Errorf("%w: WAL record: %v", ErrCorrupt, err)
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("length (trailing bytes)")
	}
	return r.err
}

// appendDeleteRecord appends the WAL record of a delete.
func appendDeleteRecord(dst []byte, keys []string, min, max int64) []byte {
	dst = append(dst, byte(recordDelete))
	dst = binary.AppendVarint(dst, min)
	dst = binary.AppendVarint(dst, max)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	return dst
}

// decodeDeleteRecord decodes a delete record.
func decodeDeleteRecord(rec []byte) (keys []string, min, max int64, err error) {
	if len(rec) == 0 || wal.RecordType(rec[0]) != recordDelete {
		return nil, 0, 0, fmt.Errorf("%w: not a delete record", ErrCorrupt)
	}
	r := &recReader{b: rec[1:]}
	min, max = r.varint("min"), r.varint("max")
	n := r.uvarint("key count")
	if n > uint64(len(r.b)) {
		r.fail("key count")
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := r.bytes(r.uvarint("key length"), "key")
		keys = append(keys, string(k))
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("length (trailing bytes)")
	}
	if r.err == nil && min > max {
		r.fail("range")
	}
	return keys, min, max, r.err
}
