package remote

import (
	"math"
	"slices"

	"github.com/klauspost/compress/snappy"
	"github.com/tsdb-course/stage01-memstore/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// Series is one series to encode: its labels and samples (ms timestamps).
type Series struct {
	Labels     model.Labels
	Samples    []model.Sample
	Histograms []HistogramSample
}

// AppendWriteRequest appends the protobuf encoding of a WriteRequest holding
// series to dst. Labels are written in name order, as remote write 1.0
// requires.
func AppendWriteRequest(dst []byte, series []Series) []byte {
	// Grown once to the request's size: appending field by field would
	// copy the request about twice over as it doubles (a healing batch is
	// a megabyte).
	n := 0
	for i := range series {
		n += 1 + protowire.SizeBytes(seriesSize(&series[i]))
	}
	dst = slices.Grow(dst, n)
	for i := range series {
		s := &series[i]
		dst = protowire.AppendTag(dst, fieldTimeSeries, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(seriesSize(s)))
		for l := range s.Labels.All() {
			dst = protowire.AppendTag(dst, fieldLabels, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(labelSize(l)))
			dst = protowire.AppendTag(dst, fieldName, protowire.BytesType)
			dst = protowire.AppendString(dst, l.Name)
			dst = protowire.AppendTag(dst, fieldValue, protowire.BytesType)
			dst = protowire.AppendString(dst, l.Value)
		}
		for _, p := range s.Samples {
			dst = protowire.AppendTag(dst, fieldSamples, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(sampleSize(p)))
			dst = protowire.AppendTag(dst, fieldSampleValue, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, math.Float64bits(p.V))
			dst = protowire.AppendTag(dst, fieldSampleTime, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(p.T))
		}
		for _, h := range s.Histograms {
			dst = protowire.AppendTag(dst, fieldHistograms, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(len(AppendHistogram(nil, h))))
			dst = AppendHistogram(dst, h)
		}
	}
	return dst
}

// Compress applies remote write's snappy block framing.
func Compress(dst, src []byte) []byte {
	return snappy.Encode(dst[:cap(dst)], src)
}

func labelSize(l model.Label) int {
	return 1 + protowire.SizeBytes(len(l.Name)) + 1 + protowire.SizeBytes(len(l.Value))
}

func sampleSize(p model.Sample) int {
	return 1 + 8 + 1 + protowire.SizeVarint(uint64(p.T))
}

func seriesSize(s *Series) int {
	n := 0
	for l := range s.Labels.All() {
		n += 1 + protowire.SizeBytes(labelSize(l))
	}
	for _, p := range s.Samples {
		n += 1 + protowire.SizeBytes(sampleSize(p))
	}
	for _, h := range s.Histograms {
		n += 1 + protowire.SizeBytes(len(AppendHistogram(nil, h)))
	}
	return n
}
