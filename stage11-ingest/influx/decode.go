package influx

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tsdb-course/stage07-tsm/lineprotocol"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// Stats counts what Decode did with a body.
type Stats struct {
	Lines   int // points (non-blank, non-comment lines), bad ones included
	Values  int // numeric fields added to the write
	Strings int // string fields, counted and skipped
	Bad     int // lines refused
	// Errors are the first MaxErrors bad lines, each a *LineError.
	Errors []error
}

// MaxErrors caps Stats.Errors.
const MaxErrors = 10

// LineError is one refused line: its number (1-based) and why (a
// *lineprotocol.SyntaxError, an *ingest.LimitError, …).
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string {
	var se *lineprotocol.SyntaxError
	if errors.As(e.Err, &se) {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, se.Column, se.Msg)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Decoder feeds line-protocol bodies to pipeline writes. It keeps its
// parse buffers from one body to the next, so a warmed-up decoder
// allocates nothing per line. A Decoder is for one goroutine.
type Decoder struct {
	Limits ingest.Limits // zero fields: the defaults
	// Keys, if set, holds the series keys of lines accepted before; a
	// line with one of them skips its tag set (parsed and checked
	// already), and an accepted line adds its key. Decoders sharing Keys
	// must have the same Limits.
	Keys   *KeySet
	p      lineprotocol.Point
	fields []fieldValue
}

type fieldValue struct {
	key []byte
	v   float64
}

// Decode adds every numeric field of every line of body to w, with
// timestamps in precision (lines without one get now, in ms). A bad line
// is skipped and the others are kept, as InfluxDB does ("partial write"):
// the errors are in Stats, and Decode itself returns no error.
//
// A line is refused for a syntax error, for exceeding a limit (its length,
// its tag count + 1, the length of a tag key or value or of the series
// name <measurement>_<field>), or for a timestamp that does not fit.
func (d *Decoder) Decode(w *ingest.Write, body []byte, prec Precision, now int64) Stats {
	lim := d.Limits.WithDefaults()
	var st Stats
	for n := 1; len(body) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if lineprotocol.IsBlankOrComment(line) {
			continue
		}
		st.Lines++
		if err := d.line(w, line, prec, now, &lim, &st); err != nil {
			st.Bad++
			if len(st.Errors) < MaxErrors {
				st.Errors = append(st.Errors, &LineError{Line: n, Err: err})
			}
		}
	}
	return st
}

func (d *Decoder) line(w *ingest.Write, line []byte, prec Precision, now int64, lim *ingest.Limits, st *Stats) error {
	if err := lim.CheckLine(len(line)); err != nil {
		return err
	}
	p := &d.p
	known := false
	if d.Keys != nil {
		sp := bytes.IndexByte(line, ' ')
		if sp > 0 && d.Keys.Has(line[:sp]) {
			if d.intLine(w, line, sp, prec, now, lim, st) {
				return nil
			}
			known = lineprotocol.ParseFields(line, p)
		}
	}
	if !known {
		if err := lineprotocol.Parse(line, p); err != nil {
			return err
		}
	}
	t := now
	if p.HasTime {
		var ok bool
		if t, ok = prec.Millis(p.Time); !ok {
			return fmt.Errorf("timestamp %d (precision %s) out of range", p.Time, prec)
		}
	}
	if !known {
		if err := lim.CheckLabels(len(p.Tags) + 1); err != nil {
			return err
		}
		for _, tg := range p.Tags {
			if err := lim.CheckLabel(tg.Key, tg.Value); err != nil {
				return err
			}
		}
	}
	// Check every field before adding any, so a refused line adds nothing.
	d.fields = d.fields[:0]
	for _, f := range p.Fields {
		v, ok := Value(f.Value)
		if !ok {
			st.Strings++
			continue
		}
		if n := len(p.Measurement) + 1 + len(f.Key); n > lim.MaxLabelValueBytes {
			return &ingest.LimitError{Limit: ingest.LimitValueBytes, Max: int64(lim.MaxLabelValueBytes), Got: int64(n), What: fmt.Sprintf("series name %.40q…", string(p.Measurement)+"_"+string(f.Key))}
		}
		d.fields = append(d.fields, fieldValue{f.Key, v})
	}
	if !known && d.Keys != nil {
		d.Keys.Add(p.Key)
	}
	if len(d.fields) == 0 {
		return nil
	}
	w.Series(Format, p.Key)
	for _, f := range d.fields {
		w.Add(f.key, t, f.v)
	}
	st.Values += len(d.fields)
	return nil
}

func (p Precision) String() string {
	switch p {
	case Nanosecond:
		return "ns"
	case Microsecond:
		return "us"
	case Millisecond:
		return "ms"
	case Second:
		return "s"
	case Minute:
		return "m"
	case Hour:
		return "h"
	}
	return fmt.Sprintf("%dns", int64(p))
}

// keyEnd marks the bytes that end a field key ('=') or make the line one
// for the general path (',' ' ' '"' in a key): one load a byte.
var keyEnd = [256]bool{'=': true, ',': true, ' ': true, '"': true}

// intLine adds a line whose key (line[:sp]) is known and whose fields are
// all plain integers (`usage_user=58i`, as TSBS and most agents' counters
// write them), reading each value as it scans it: the fields are not
// gathered as lineprotocol.Fields first, nor the key scanned again. It
// reports false, having added nothing, for anything else (an escape, a
// float, a string, a syntax error, a limit), which the general path takes.
func (d *Decoder) intLine(w *ingest.Write, line []byte, sp int, prec Precision, now int64, lim *ingest.Limits, st *Stats) bool {
	if n := len(line); line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\\') >= 0 {
		return false
	}
	key := line[:sp]
	mlen := bytes.IndexByte(key, ',') // the measurement's length
	if mlen < 0 {
		mlen = len(key)
	}
	i := sp + 1
	for i < len(line) && line[i] == ' ' {
		i++
	}
	d.fields = d.fields[:0]
	for {
		// A field key: up to '=', none of the bytes that end or quote
		// a field.
		k := i
		for i < len(line) && !keyEnd[line[i]] {
			i++
		}
		if i == k || i == len(line) || line[i] != '=' || mlen+1+(i-k) > lim.MaxLabelValueBytes {
			return false
		}
		fk := line[k:i]
		i++
		// An integer of at most 18 digits (no overflow), then 'i'.
		neg := i < len(line) && line[i] == '-'
		if neg {
			i++
		}
		var v int64
		j := i
		for ; i < len(line) && i-j < 18 && line[i]-'0' <= 9; i++ {
			v = v*10 + int64(line[i]-'0')
		}
		if i == j || i == len(line) || line[i] != 'i' {
			return false
		}
		i++
		if neg {
			v = -v
		}
		d.fields = append(d.fields, fieldValue{fk, float64(v)})
		if i == len(line) || line[i] == ' ' {
			break
		}
		if line[i] != ',' {
			return false
		}
		i++
	}
	// The timestamp, if any: spaces, an integer, spaces.
	for i < len(line) && line[i] == ' ' {
		i++
	}
	t := now
	if i < len(line) {
		neg := line[i] == '-'
		if neg {
			i++
		}
		var u uint64
		j := i
		for ; i < len(line) && i-j < 19 && line[i]-'0' <= 9; i++ {
			u = u*10 + uint64(line[i]-'0') // 19 digits fit in a uint64
		}
		if i == j || u > 1<<63-1 && !(neg && u == 1<<63) {
			return false
		}
		for ; i < len(line); i++ {
			if line[i] != ' ' {
				return false
			}
		}
		ts := int64(u)
		if neg {
			ts = -ts
		}
		var ok bool
		if t, ok = prec.Millis(ts); !ok {
			return false
		}
	}
	w.Series(Format, key)
	for _, f := range d.fields {
		w.Add(f.key, t, f.v)
	}
	st.Values += len(d.fields)
	return true
}
