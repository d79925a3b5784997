package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Pairs is the Format of decoders whose series keys are plain label pairs
// (OTLP, remote write 2.0, JSON): each name and value as a uvarint length
// and its bytes, in the order written. A point's suffix, if any, is
// appended to the metric name.
//
//	key := ingest.AppendPair(nil, "__name__", "up")
//	key = ingest.AppendPair(key, "job", "node")
var Pairs Format = pairs{}

type pairs struct{}

// AppendPair appends one label to a Pairs key.
func AppendPair[S ~string | ~[]byte](dst []byte, name, value S) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// ErrInvalidSeries wraps the reasons a series' labels are refused.
var ErrInvalidSeries = errors.New("ingest: invalid series")

func (pairs) Labels(key, suffix []byte) (model.Labels, error) {
	ls, err := parsePairs(key)
	if err != nil {
		return model.Labels{}, err
	}
	return NewLabels(ls, suffix)
}

// Row parses a key once for all its suffixes' series (RowFormat): a sink
// creating a row's series copies the parsed labels for each instead of
// parsing the key and allocating every name and value again.
func (pairs) Row(key []byte) (RowLabels, error) {
	ls, err := parsePairs(key)
	if err != nil {
		return nil, err
	}
	return pairsRow(ls), nil
}

// pairsRow is a Pairs key's labels, parsed.
type pairsRow []model.Label

func (r pairsRow) Labels(suffix []byte) (model.Labels, error) {
	// NewLabels checks and compacts the slice it is given in place: a
	// copy, on the stack for a key of up to 16 labels (the label set
	// built is model.New's own copy).
	var buf [16]model.Label
	return NewLabels(append(buf[:0], r...), suffix)
}

// parsePairs reads a Pairs key's labels.
func parsePairs(key []byte) ([]model.Label, error) {
	var ls []model.Label
	for len(key) > 0 {
		var nv [2][]byte
		for i := range nv {
			n, k := binary.Uvarint(key)
			if k <= 0 || uint64(len(key)-k) < n {
				return nil, fmt.Errorf("%w: damaged Pairs key", ErrInvalidSeries)
			}
			nv[i], key = key[k:k+int(n)], key[k+int(n):]
		}
		ls = append(ls, model.Label{Name: string(nv[0]), Value: string(nv[1])})
	}
	return ls, nil
}

// NewLabels checks a decoded label set the way every protocol here must
// (a metric name, no empty or repeated names, UTF-8; an empty value means
// the label is absent), appends suffix to the metric name and builds the
// set. Errors wrap ErrInvalidSeries.
func NewLabels(ls []model.Label, suffix []byte) (model.Labels, error) {
	out := ls[:0]
	named := false
	for _, l := range ls {
		if l.Name == "" {
			return model.Labels{}, fmt.Errorf("%w: empty label name", ErrInvalidSeries)
		}
		if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
			return model.Labels{}, fmt.Errorf("%w: label %q is not valid UTF-8", ErrInvalidSeries, l.Name)
		}
		if l.Value == "" {
			continue
		}
		if l.Name == model.MetricName {
			named = true
			if len(suffix) > 0 {
				l.Value += string(suffix)
			}
		}
		out = append(out, l)
	}
	if !named {
		return model.Labels{}, fmt.Errorf("%w: no metric name (__name__ label)", ErrInvalidSeries)
	}
	lset, err := model.New(out...)
	if err != nil {
		return model.Labels{}, fmt.Errorf("%w: %v", ErrInvalidSeries, err)
	}
	return lset, nil
}
