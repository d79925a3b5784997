package loadgen

import (
	"encoding/binary"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP requests are written by hand, not built with the OTLP Go types
// and their encoder: that costs an allocation per data point and per
// attribute, and reflection, which on a 2-core machine shared with the
// server is CPU the server does not get. A host's attributes are the
// same in every request, so they are encoded once; the rest is the
// time, the value and the lengths, which are known before writing (every
// data point of a host has the same size), so the request is written in
// one pass, front to back. TestOTLP checks it against the Go types.
//
//	ExportMetricsServiceRequest { ResourceMetrics resource_metrics = 1 {
//	  ScopeMetrics scope_metrics = 2 { Metric metrics = 2 {            // one per field
//	    string name = 1; Gauge gauge = 5 { NumberDataPoint data_points = 1 {
//	      fixed64 time_unix_nano = 3; KeyValue attributes = 7 …; sfixed64 as_int = 6 }}}}}}

// otlpState is a Generator's OTLP encoding state.
type otlpState struct {
	attrs [][]byte // per host: its attributes, encoded as NumberDataPoint fields
	times []uint64 // per round of the request being written: the time (ns)
	vals  []int64  // per round, host and field: the value
}

func (g *Generator) otlpInit() *otlpState {
	s := &otlpState{}
	for _, h := range g.Hosts {
		var b []byte
		for _, t := range Tags(h) {
			var kv []byte
			kv = protowire.AppendTag(kv, 1, protowire.BytesType)
			kv = protowire.AppendString(kv, t[0])
			var av []byte
			av = protowire.AppendTag(av, 1, protowire.BytesType)
			av = protowire.AppendString(av, t[1])
			kv = protowire.AppendTag(kv, 2, protowire.BytesType)
			kv = protowire.AppendBytes(kv, av)
			b = protowire.AppendTag(b, 7, protowire.BytesType)
			b = protowire.AppendBytes(b, kv)
		}
		s.attrs = append(s.attrs, b)
	}
	return s
}

// otlpPointSize is the size of a data point of host h (without its own tag
// and length): time and value, a tag and 8 bytes each, and the attributes.
func (s *otlpState) pointSize(h int) int { return 2*(1+8) + len(s.attrs[h]) }

// OTLP appends the next request as an OTLP ExportMetricsServiceRequest
// (protobuf): one gauge per field, a data point per host and round.
func (g *Generator) OTLP(dst []byte) []byte {
	if g.otlp == nil {
		g.otlp = g.otlpInit()
	}
	s := g.otlp
	s.times, s.vals = s.times[:0], s.vals[:0]
	for range g.Rounds {
		g.step()
		s.times = append(s.times, uint64(Start+g.next*Step)*1e6)
		s.vals = append(s.vals, g.vals...)
		g.next++
	}
	// Sizes, inside out.
	field := func(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n } // a one-byte tag, a length, n bytes
	points := 0                                                                 // the data points of one gauge, with their tags
	for h := range g.Hosts {
		points += field(s.pointSize(h))
	}
	points *= g.Rounds
	metrics := 0
	for _, f := range Fields {
		metrics += field(field(len("cpu.")+len(f)) + field(points))
	}
	scope := field(metrics)
	dst = slices.Grow(dst, field(scope))                   // once: a request is about 250 bytes a point
	dst = protowire.AppendTag(dst, 1, protowire.BytesType) // resource_metrics
	dst = protowire.AppendVarint(dst, uint64(scope))
	dst = protowire.AppendTag(dst, 2, protowire.BytesType) // scope_metrics
	dst = protowire.AppendVarint(dst, uint64(metrics))
	for f, name := range Fields {
		dst = protowire.AppendTag(dst, 2, protowire.BytesType) // metrics
		dst = protowire.AppendVarint(dst, uint64(field(len("cpu.")+len(name))+field(points)))
		dst = protowire.AppendTag(dst, 1, protowire.BytesType) // name
		dst = protowire.AppendVarint(dst, uint64(len("cpu.")+len(name)))
		dst = append(append(dst, "cpu."...), name...)
		dst = protowire.AppendTag(dst, 5, protowire.BytesType) // gauge
		dst = protowire.AppendVarint(dst, uint64(points))
		for r, t := range s.times {
			vals := s.vals[r*len(g.vals):]
			for h := range g.Hosts {
				dst = protowire.AppendTag(dst, 1, protowire.BytesType) // data_points
				dst = protowire.AppendVarint(dst, uint64(s.pointSize(h)))
				dst = append(dst, 3<<3|byte(protowire.Fixed64Type)) // time_unix_nano
				dst = binary.LittleEndian.AppendUint64(dst, t)
				dst = append(dst, s.attrs[h]...)
				dst = append(dst, 6<<3|byte(protowire.Fixed64Type)) // as_int (the Go types write their oneofs last)
				dst = binary.LittleEndian.AppendUint64(dst, uint64(vals[h*len(Fields)+f]))
			}
		}
	}
	return dst
}
