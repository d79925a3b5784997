// Package remote is Prometheus's remote storage protocols, both ways:
//
//   - writerequest.go: remote write 1.0, a snappy-compressed (block
//     format) protobuf WriteRequest, decoded field by field with protowire,
//     without generated code and without allocating per sample;
//   - v2.go: remote write 2.0 (io.prometheus.write.v2.Request, a symbols
//     table and series referring to it), decoded and encoded;
//   - encode.go: the 1.0 message written (for clients and load generators);
//   - json.go: the roadmap's JSON form of the 1.0 request;
//   - read.go: remote read, the ReadRequest and both answers (sampled,
//     and streamed chunks);
//   - stream.go: the streamed answer written frame by frame as it is
//     read from storage (ChunkedWriter);
//   - xorchunk.go: Prometheus's XOR chunk, what a Prometheus client reads
//     in a streamed answer;
//   - format.go: the ingest.Format of 1.0 series keys, and the limits.
//
// Every write decoder hands out one series at a time to a callback, as a
// TimeSeries whose memory is reused for the next one.
package remote

import (
	"errors"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
)

var (
	// ErrInvalid is wrapped by every error about an undecodable request.
	ErrInvalid = errors.New("remote: invalid request")
	// ErrTooLarge: the (decompressed) body is larger than the limit.
	ErrTooLarge = errors.New("remote: request too large")
)

// Label is one label of a series as it was on the wire; its bytes alias the
// request buffer.
type Label struct {
	Name, Value []byte
}

// TimeSeries is one series of a request and its samples. Key identifies the
// label set as written (the raw label bytes), so a writer can cache the
// storage ref of a series across requests without building its labels.
// Everything is valid only during the callback that receives it.
type TimeSeries struct {
	Key     []byte
	Labels  []Label
	Samples []model.Sample
	// Histograms are the series' native histogram samples. The slice is
	// reused like Samples; the histograms it points to are not.
	Histograms []HistogramSample
}

// ModelLabels builds the series' label set, checking it the way remote write
// 1.0 demands: at least a metric name, no empty or repeated label names.
func (ts *TimeSeries) ModelLabels() (model.Labels, error) {
	pairs := make([]model.Label, 0, len(ts.Labels))
	hasName := false
	for _, l := range ts.Labels {
		if len(l.Name) == 0 {
			return model.Labels{}, errorf("empty label name")
		}
		if !utf8.Valid(l.Name) || !utf8.Valid(l.Value) {
			return model.Labels{}, errorf("label %q is not valid UTF-8", l.Name)
		}
		if len(l.Value) == 0 {
			continue // an empty value means the label is absent
		}
		if string(l.Name) == model.MetricName {
			hasName = true
		}
		pairs = append(pairs, model.Label{Name: string(l.Name), Value: string(l.Value)})
	}
	if !hasName {
		return model.Labels{}, errorf("series without a metric name (__name__ label)")
	}
	lset, err := model.New(pairs...)
	if err != nil {
		return model.Labels{}, errorf("%v", err)
	}
	return lset, nil
}

// Metadata is one MetricMetadata entry of a request.
type Metadata struct {
	Type, Family, Help, Unit string
}

// MetricTypes names the protobuf enum MetricMetadata.MetricType as the
// metadata API prints it.
var MetricTypes = []string{"unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"}
