package otlp

import (
	"fmt"
	"unicode/utf8"

	"github.com/tsdb-course/stage11-ingest/remote"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	resource "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The wire decoder (decode.go) reads what becomes samples by hand; the
// rest of a request (scopes, exemplars, metadata, entity references, the
// data of a metric it refuses) it does not read, but must still refuse
// when proto.Unmarshal would: a request is taken whole or not at all, the
// same requests as the generated types take. validate checks such a
// message against its descriptor, as proto.Unmarshal does: each known
// field of its wire type (another wire type makes it an unknown field),
// strings UTF-8 (proto3), packed runs whole, nested messages likewise,
// down to proto.Unmarshal's nesting limit.

var (
	descKeyValue  = (&common.KeyValue{}).ProtoReflect().Descriptor()
	descScope     = (&common.InstrumentationScope{}).ProtoReflect().Descriptor()
	descEntityRef = (&common.EntityRef{}).ProtoReflect().Descriptor()
	descResource  = (&resource.Resource{}).ProtoReflect().Descriptor()
	descExemplar  = (&metrics.Exemplar{}).ProtoReflect().Descriptor()
	descGauge     = (&metrics.Gauge{}).ProtoReflect().Descriptor()
	descSum       = (&metrics.Sum{}).ProtoReflect().Descriptor()
	descHistogram = (&metrics.Histogram{}).ProtoReflect().Descriptor()
	descExpHist   = (&metrics.ExponentialHistogram{}).ProtoReflect().Descriptor()
	descSummary   = (&metrics.Summary{}).ProtoReflect().Descriptor()
)

// maxLevel is proto.Unmarshal's nesting limit: the request is level 1,
// and a message at a level above this is refused.
const maxLevel = protowire.DefaultRecursionLimit

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func wireError(what string, n int) error {
	return invalid("%s: %v", what, protowire.ParseError(n))
}

// validate checks message b (at nesting level) of type md.
func validate(b []byte, md protoreflect.MessageDescriptor, level int) error {
	if level > maxLevel {
		return invalid("%s: nested deeper than %d messages", md.Name(), maxLevel)
	}
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, n := remote.ConsumeTag(b)
		if n < 0 {
			return wireError(string(md.Name()), n)
		}
		b = b[n:]
		if fd := fields.ByNumber(num); fd != nil {
			m, err := validateField(b, fd, typ, level)
			if err != nil {
				return err
			}
			if m >= 0 {
				b = b[m:]
				continue
			}
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return wireError(fmt.Sprintf("%s field %d", md.Name(), num), n)
		}
		b = b[n:]
	}
	return nil
}

// wireTypes are the wire types of the scalar kinds.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType // string, bytes, message
}

// validateField checks the value of field fd after its tag and returns
// its length, or -1 if typ is not fd's wire type (an unknown field then).
func validateField(b []byte, fd protoreflect.FieldDescriptor, typ protowire.Type, level int) (int, error) {
	want := wireType(fd.Kind())
	what := func() string { return fmt.Sprintf("%s.%s", fd.Parent().Name(), fd.Name()) }
	if typ != want {
		if typ != protowire.BytesType || !fd.IsList() || want == protowire.BytesType || want == protowire.StartGroupType {
			return -1, nil
		}
		packed, n := remote.ConsumeBytes(b) // a packed run of scalars
		if n < 0 {
			return 0, wireError(what(), n)
		}
		for len(packed) > 0 {
			m := protowire.ConsumeFieldValue(fd.Number(), want, packed)
			if m < 0 {
				return 0, wireError(what(), m)
			}
			packed = packed[m:]
		}
		return n, nil
	}
	if typ == protowire.StartGroupType {
		return -1, nil // no groups in OTLP; proto.Unmarshal would read one, skipping it is as strict
	}
	if typ != protowire.BytesType {
		n := protowire.ConsumeFieldValue(fd.Number(), typ, b)
		if n < 0 {
			return 0, wireError(what(), n)
		}
		return n, nil
	}
	v, n := remote.ConsumeBytes(b)
	if n < 0 {
		return 0, wireError(what(), n)
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.Valid(v) {
			return 0, invalid("%s: invalid UTF-8", what())
		}
	case protoreflect.MessageKind:
		if err := validate(v, fd.Message(), level+1); err != nil {
			return 0, err
		}
	}
	return n, nil
}
