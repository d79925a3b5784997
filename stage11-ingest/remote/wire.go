package remote

import "google.golang.org/protobuf/encoding/protowire"

// Wire helpers shared by the hand-written protobuf decoders of this
// module (remote write here, OTLP in package otlp): protowire's, with the
// one-byte case inline (nearly every tag and length on the ingest path),
// and with the checks proto.Unmarshal makes, so that a hand-written decoder
// refuses what the generated types refuse.

// ConsumeTag reads a field's tag like protowire.ConsumeTag, and refuses
// what proto.Unmarshal refuses there: field number 0, and numbers above
// protowire.MaxValidNumber (2^29-1), which protowire accepts up to
// 2^31-1. n < 0 is a protowire error code (protowire.ParseError). Every
// tag of this module's decoders goes through it.
//
// The wire type is the caller's: a decoder skips what it does not read
// with protowire.ConsumeFieldValue, which refuses what proto.Unmarshal
// refuses (an end-group marker out of place, the reserved types 6 and 7)
// and passes over a whole group, as proto.Unmarshal does with a field it
// does not know, proto3 or not.
func ConsumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 && b[0] >= 1<<3 {
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1
	}
	return consumeTag(b)
}

// consumeTag is ConsumeTag's longer path: tags of more than one byte, and
// the field-number check protowire.ConsumeTag leaves out.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n > 0 && num > protowire.MaxValidNumber {
		return 0, 0, consumeFieldNumberError
	}
	return num, typ, n
}

// consumeFieldNumberError is protowire's code for an invalid field number
// (what ParseError(-2) explains).
const consumeFieldNumberError = -2

// ConsumeBytes reads a length-delimited value like protowire.ConsumeBytes.
func ConsumeBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 {
		n := int(b[0]) + 1
		if n > len(b) {
			return nil, consumeEOF
		}
		return b[1:n:n], n
	}
	return protowire.ConsumeBytes(b)
}

// consumeEOF is protowire's code for a value cut short.
const consumeEOF = -1

// ConsumeFixed64s appends the values of a repeated fixed64 or double field
// (as bits) to dst, packed (typ BytesType) or one value (Fixed64Type), as
// proto.Unmarshal takes either; a packed run must be whole values. n < 0
// is a protowire error code.
func ConsumeFixed64s(b []byte, typ protowire.Type, dst []uint64) ([]uint64, int) {
	if typ == protowire.Fixed64Type {
		v, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return dst, n
		}
		return append(dst, v), n
	}
	packed, n := ConsumeBytes(b)
	if n < 0 {
		return dst, n
	}
	if len(packed)%8 != 0 {
		return dst, consumeEOF
	}
	for ; len(packed) > 0; packed = packed[8:] {
		v, _ := protowire.ConsumeFixed64(packed)
		dst = append(dst, v)
	}
	return dst, n
}
