package prompbtest

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Fields built byte by byte, for tests that a hand-written decoder takes
// and refuses the tags proto.Unmarshal takes and refuses, wherever in a
// message they come (Insert).
//
// A tag is the varint fieldNumber<<3 | wireType. The encoding allows field
// numbers 1 to 2^29-1 (protowire.MaxValidNumber) and wire types 0 varint,
// 1 fixed64, 2 length-delimited, 3 and 4 start and end of a group, 5
// fixed32; 6 and 7 are reserved. proto3 has no group fields, but a
// decoder skips an unknown field whatever its wire type, a whole group
// included (up to the end marker of its number), so a proto3 message may
// carry one.

// Field is one field built by hand. Refused is what the encoding's rules
// above say proto.Unmarshal does with a message holding it, in any message
// of the remote-write, remote-read and OTLP schemas (none has a field of
// number 1000 or above, a fixed32 field, or a group).
type Field struct {
	Name    string
	Bytes   []byte
	Refused bool
}

// tag is a tag of any field number, even one protowire.AppendTag cannot
// take (it stops at 2^31-1).
func tag(num uint64, typ protowire.Type) []byte {
	return protowire.AppendVarint(nil, num<<3|uint64(typ))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Fields returns fields whose tags are out of the ordinary: invalid field
// numbers, every wire type, groups, and fields of known numbers with a
// wire type no field of these schemas has (fixed32, group), which a
// decoder must skip as unknown.
func Fields() []Field {
	const top = uint64(protowire.MaxValidNumber)
	one := protowire.AppendVarint(nil, 1)
	four := []byte{1, 2, 3, 4}
	fs := []Field{
		{"field 0, varint", cat(tag(0, protowire.VarintType), one), true},
		{"field 0, bytes", cat(tag(0, protowire.BytesType), []byte{0}), true},
		{"field 0, tag in two bytes", []byte{0x80, 0x00, 0x01}, true},
		{"field 1000, tag padded to three bytes", []byte{0xc0, 0xbe, 0x00, 0x01}, false},
		{"field 2^29-1 (the largest)", cat(tag(top, protowire.VarintType), one), false},
		{"field 2^29", cat(tag(top+1, protowire.VarintType), one), true},
		{"field 2^29, bytes", cat(tag(top+1, protowire.BytesType), []byte{0}), true},
		{"field 2^31-1", cat(tag(1<<31-1, protowire.VarintType), one), true},
		{"field 2^31", cat(tag(1<<31, protowire.VarintType), one), true},
		{"field 2^32+1", cat(tag(1<<32+1, protowire.VarintType), one), true},
		{"field 2^60", cat(tag(1<<60, protowire.VarintType), one), true},
		{"tag of 11 bytes", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true},
		{"field 1000, varint", cat(tag(1000, protowire.VarintType), one), false},
		{"field 1000, fixed64", cat(tag(1000, protowire.Fixed64Type), four, four), false},
		{"field 1000, bytes", cat(tag(1000, protowire.BytesType), []byte{2, 0xff, 0xfe}), false},
		{"field 1000, fixed32", cat(tag(1000, protowire.Fixed32Type), four), false},
		{"field 1000, empty group", cat(tag(1000, protowire.StartGroupType), tag(1000, protowire.EndGroupType)), false},
		{"field 1000, group of fields", cat(tag(1000, protowire.StartGroupType), tag(1, protowire.VarintType), one,
			tag(2, protowire.StartGroupType), tag(2, protowire.EndGroupType), tag(1000, protowire.EndGroupType)), false},
		// Inside a group, protowire's skipping takes numbers up to 2^31-1,
		// and proto.Unmarshal skips an unknown group with it.
		{"field 1000, group holding field 2^29", cat(tag(1000, protowire.StartGroupType), tag(top+1, protowire.VarintType), one,
			tag(1000, protowire.EndGroupType)), false},
		{"field 1000, group holding field 0", cat(tag(1000, protowire.StartGroupType), tag(0, protowire.VarintType), one,
			tag(1000, protowire.EndGroupType)), true},
		{"field 1000, group ended as 1001", cat(tag(1000, protowire.StartGroupType), tag(1001, protowire.EndGroupType)), true},
		{"field 1000, group not ended", tag(1000, protowire.StartGroupType), true},
		{"field 2^29-1, empty group", cat(tag(top, protowire.StartGroupType), tag(top, protowire.EndGroupType)), false},
		{"field 2^29, empty group", cat(tag(top+1, protowire.StartGroupType), tag(top+1, protowire.EndGroupType)), true},
		{"field 1000, end group alone", tag(1000, protowire.EndGroupType), true},
		{"field 1, end group alone", tag(1, protowire.EndGroupType), true},
		{"field 1000, wire type 6", cat(tag(1000, 6), one), true},
		{"field 1000, wire type 7", cat(tag(1000, 7), one), true},
		{"field 1, wire type 6", cat(tag(1, 6), one), true},
		{"field 2, wire type 7", cat(tag(2, 7), one), true},
	}
	for num := uint64(1); num <= 16; num++ {
		fs = append(fs,
			Field{fmt.Sprintf("field %d, fixed32", num), cat(tag(num, protowire.Fixed32Type), four), false},
			Field{fmt.Sprintf("field %d, empty group", num), cat(tag(num, protowire.StartGroupType), tag(num, protowire.EndGroupType)), false})
	}
	return fs
}

// Insert returns copies of msg, a message of type md, with extra inserted
// first in msg and, one copy each, first in every message nested in it,
// the lengths around it rewritten: each message of a request gets its turn
// to hold the field.
func Insert(msg []byte, md protoreflect.MessageDescriptor, extra []byte) [][]byte {
	out := [][]byte{cat(extra, msg)}
	for off := 0; off < len(msg); {
		num, typ, n := protowire.ConsumeTag(msg[off:])
		m := protowire.ConsumeFieldValue(num, typ, msg[off+n:])
		if n < 0 || m < 0 {
			panic("prompbtest.Insert: msg does not decode")
		}
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Kind() == protoreflect.MessageKind && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(msg[off+n:])
			for _, inner := range Insert(v, fd.Message(), extra) {
				b := cat(msg[:off+n], protowire.AppendVarint(nil, uint64(len(inner))), inner, msg[off+n+m:])
				out = append(out, b)
			}
		}
		off += n + m
	}
	return out
}
