// Package prompbtest encodes remote-write requests with the protobuf
// library's reflection-based marshaller over a descriptor of the remote write
// 1.0 schema built at run time: an encoder independent of package remote,
// for tests (no generated code, no dependency on Prometheus). It also
// builds odd fields byte by byte (fields.go), for tests of the decoders'
// tag checks.
package prompbtest

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The remote write 1.0 schema built as a descriptor, so that tests encode
// requests with the protobuf library's own (reflection-based) marshaller: an
// encoder independent of encode.go and of the decoder under test.
// Descriptor returns the WriteRequest message descriptor.
func Descriptor(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, repeated bool, msg string) *descriptorpb.FieldDescriptorProto {
		label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if repeated {
			label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
		if msg != "" {
			f.TypeName = proto.String(".prometheus." + msg)
		}
		return f
	}
	const (
		tMsg    = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		tString = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tDouble = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
		tInt64  = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tEnum   = descriptorpb.FieldDescriptorProto_TYPE_ENUM
	)
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("remote_test.proto"),
		Package: proto.String("prometheus"),
		Syntax:  proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("MetricType"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("UNKNOWN"), Number: proto.Int32(0)},
				{Name: proto.String("COUNTER"), Number: proto.Int32(1)},
				{Name: proto.String("GAUGE"), Number: proto.Int32(2)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("WriteRequest"), Field: []*descriptorpb.FieldDescriptorProto{
				field("timeseries", 1, tMsg, true, "TimeSeries"),
				field("metadata", 3, tMsg, true, "MetricMetadata"),
			}},
			{Name: proto.String("TimeSeries"), Field: []*descriptorpb.FieldDescriptorProto{
				field("labels", 1, tMsg, true, "Label"),
				field("samples", 2, tMsg, true, "Sample"),
			}},
			{Name: proto.String("Label"), Field: []*descriptorpb.FieldDescriptorProto{
				field("name", 1, tString, false, ""),
				field("value", 2, tString, false, ""),
			}},
			{Name: proto.String("Sample"), Field: []*descriptorpb.FieldDescriptorProto{
				field("value", 1, tDouble, false, ""),
				field("timestamp", 2, tInt64, false, ""),
			}},
			{Name: proto.String("MetricMetadata"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("type"), Number: proto.Int32(1), Type: tEnum.Enum(), TypeName: proto.String(".prometheus.MetricType"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
				field("metric_family_name", 2, tString, false, ""),
				field("help", 4, tString, false, ""),
				field("unit", 5, tString, false, ""),
			}},
		},
	}
	file, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return file.Messages().ByName("WriteRequest")
}

// Series is one series: labels as name/value pairs, samples as
// {timestamp ms, value}.
type Series struct {
	Labels  [][2]string
	Samples [][2]float64
}

// Meta is one MetricMetadata entry (Type: 1 counter, 2 gauge).
type Meta struct {
	Type               int32
	Family, Help, Unit string
}

// Marshal encodes a WriteRequest of series and metadata with dynamicpb.
func Marshal(t testing.TB, series []Series, meta []Meta) []byte {
	t.Helper()
	wr := Descriptor(t)
	ts := wr.Fields().ByName("timeseries").Message()
	lab := ts.Fields().ByName("labels").Message()
	smp := ts.Fields().ByName("samples").Message()
	md := wr.Fields().ByName("metadata").Message()

	req := dynamicpb.NewMessage(wr)
	list := req.Mutable(wr.Fields().ByName("timeseries")).List()
	for _, s := range series {
		m := dynamicpb.NewMessage(ts)
		ll := m.Mutable(ts.Fields().ByName("labels")).List()
		for _, l := range s.Labels {
			lm := dynamicpb.NewMessage(lab)
			lm.Set(lab.Fields().ByName("name"), protoreflect.ValueOfString(l[0]))
			lm.Set(lab.Fields().ByName("value"), protoreflect.ValueOfString(l[1]))
			ll.Append(protoreflect.ValueOfMessage(lm))
		}
		sl := m.Mutable(ts.Fields().ByName("samples")).List()
		for _, p := range s.Samples {
			sm := dynamicpb.NewMessage(smp)
			sm.Set(smp.Fields().ByName("timestamp"), protoreflect.ValueOfInt64(int64(p[0])))
			sm.Set(smp.Fields().ByName("value"), protoreflect.ValueOfFloat64(p[1]))
			sl.Append(protoreflect.ValueOfMessage(sm))
		}
		list.Append(protoreflect.ValueOfMessage(m))
	}
	ml := req.Mutable(wr.Fields().ByName("metadata")).List()
	for _, x := range meta {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("type"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(x.Type)))
		m.Set(md.Fields().ByName("metric_family_name"), protoreflect.ValueOfString(x.Family))
		m.Set(md.Fields().ByName("help"), protoreflect.ValueOfString(x.Help))
		m.Set(md.Fields().ByName("unit"), protoreflect.ValueOfString(x.Unit))
		ml.Append(protoreflect.ValueOfMessage(m))
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
