package ingest

import (
	"errors"
	"fmt"
)

// ErrLimit is matched (errors.Is) by every *LimitError.
var ErrLimit = errors.New("ingest: limit exceeded")

// Limits bound what one request may carry. Each protocol checks the ones
// that apply to it (a line length means nothing to remote write); the zero
// value of a field means its default. The names are those of the server's
// flags, and errors name them, so an operator knows which flag to raise.
type Limits struct {
	// MaxBodyBytes bounds a request body after decompression (gzip,
	// snappy). Defaults to 32 MiB.
	MaxBodyBytes int64
	// MaxLineBytes bounds one line of line protocol or of the text format.
	// Defaults to 256 KiB.
	MaxLineBytes int
	// MaxLabels bounds the labels of one series, the metric name included.
	// Defaults to 64.
	MaxLabels int
	// MaxLabelNameBytes bounds a label name. Defaults to 256.
	MaxLabelNameBytes int
	// MaxLabelValueBytes bounds a label value, the metric name included.
	// Defaults to 4096.
	MaxLabelValueBytes int
}

// The limits' names, as flags and in errors.
const (
	LimitBody       = "max-body-bytes"
	LimitLine       = "max-line-bytes"
	LimitLabels     = "max-labels-per-series"
	LimitNameBytes  = "max-label-name-bytes"
	LimitValueBytes = "max-label-value-bytes"
)

// WithDefaults fills the zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 32 << 20
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = 256 << 10
	}
	if l.MaxLabels <= 0 {
		l.MaxLabels = 64
	}
	if l.MaxLabelNameBytes <= 0 {
		l.MaxLabelNameBytes = 256
	}
	if l.MaxLabelValueBytes <= 0 {
		l.MaxLabelValueBytes = 4096
	}
	return l
}

// LimitError says which limit a request exceeded and by how much.
type LimitError struct {
	Limit string // one of the Limit… names
	Max   int64
	Got   int64
	What  string // what exceeded it: `label "host"`, `series cpu_usage`, …
}

func (e *LimitError) Error() string {
	if e.What == "" {
		return fmt.Sprintf("limit %s (%d) exceeded: %d", e.Limit, e.Max, e.Got)
	}
	return fmt.Sprintf("limit %s (%d) exceeded by %s: %d", e.Limit, e.Max, e.What, e.Got)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// CheckLabels checks a series' label count (the metric name included).
func (l *Limits) CheckLabels(n int) error {
	if n > l.MaxLabels {
		return &LimitError{Limit: LimitLabels, Max: int64(l.MaxLabels), Got: int64(n), What: "a series"}
	}
	return nil
}

// CheckLabel checks one label's name and value lengths.
func (l *Limits) CheckLabel(name, value []byte) error {
	if len(name) > l.MaxLabelNameBytes {
		return &LimitError{Limit: LimitNameBytes, Max: int64(l.MaxLabelNameBytes), Got: int64(len(name)), What: fmt.Sprintf("label name %.40q…", name)}
	}
	if len(value) > l.MaxLabelValueBytes {
		return &LimitError{Limit: LimitValueBytes, Max: int64(l.MaxLabelValueBytes), Got: int64(len(value)), What: fmt.Sprintf("the value of label %.40q", name)}
	}
	return nil
}

// CheckLine checks one line's length.
func (l *Limits) CheckLine(n int) error {
	if n > l.MaxLineBytes {
		return &LimitError{Limit: LimitLine, Max: int64(l.MaxLineBytes), Got: int64(n), What: "a line"}
	}
	return nil
}

// BodyError is the error for a body over MaxBodyBytes (got: what was
// read or announced, at least Max+1).
func (l *Limits) BodyError(got int64) error {
	return &LimitError{Limit: LimitBody, Max: l.MaxBodyBytes, Got: got, What: "the request body"}
}
