package text

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// Format is the ingest.Format of text lines: the key is the line's
// `name{labels}` as written.
var Format ingest.Format = format{}

type format struct{}

func (format) Labels(key, suffix []byte) (model.Labels, error) {
	s, err := ParseLine(string(key) + " 0")
	if err != nil {
		return model.Labels{}, fmt.Errorf("%w: %w", ingest.ErrInvalidSeries, err)
	}
	return s.Labels, nil
}

// Stats counts what Decode did with a body.
type Stats struct {
	Lines, Samples, Bad int
	Errors              []error // the first MaxErrors bad lines
}

// MaxErrors caps Stats.Errors.
const MaxErrors = 10

// Decoder feeds bodies of text lines to pipeline writes. It parses a
// series' labels only the first time it meets its `name{labels}` text
// (later lines with the same text cost a lookup), so a warmed-up decoder
// allocates nothing per line. A Decoder is for one goroutine.
type Decoder struct {
	Limits ingest.Limits
	seen   map[string]struct{}
}

// maxSeen bounds the series texts a Decoder remembers.
const maxSeen = 100_000

// Decode adds every good line of body to w (lines without a timestamp get
// now, in ms); bad lines are counted and skipped.
func (d *Decoder) Decode(w *ingest.Write, body []byte, now int64) Stats {
	lim := d.Limits.WithDefaults()
	if d.seen == nil {
		d.seen = map[string]struct{}{}
	}
	var st Stats
	for n := 1; len(body) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		st.Lines++
		if err := d.line(w, line, now, &lim); err != nil {
			st.Bad++
			if len(st.Errors) < MaxErrors {
				st.Errors = append(st.Errors, fmt.Errorf("line %d: %w", n, err))
			}
			continue
		}
		st.Samples++
	}
	return st
}

func (d *Decoder) line(w *ingest.Write, line []byte, now int64, lim *ingest.Limits) error {
	if err := lim.CheckLine(len(line)); err != nil {
		return err
	}
	end := seriesEnd(line)
	key := line[:end]
	if _, ok := d.seen[unsafe.String(unsafe.SliceData(key), len(key))]; !ok {
		// New series text: parse the whole line for its errors and limits.
		s, err := ParseLine(string(line))
		if err != nil {
			return err
		}
		if err := lim.CheckLabels(s.Labels.Len()); err != nil {
			return err
		}
		for l := range s.Labels.All() {
			if err := lim.CheckLabel([]byte(l.Name), []byte(l.Value)); err != nil {
				return err
			}
		}
		if len(d.seen) >= maxSeen {
			clear(d.seen)
		}
		d.seen[string(key)] = struct{}{}
	}
	v, t, err := valueAndTime(line[end:], now)
	if err != nil {
		return err
	}
	w.Series(Format, key)
	w.Add(nil, t, v)
	return nil
}

// seriesEnd is the length of the `name{labels}` part of a line: up to the
// first space outside the braces (quoted values may hold spaces, braces
// and escaped quotes).
func seriesEnd(line []byte) int {
	inBraces, inQuote := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"' && inBraces:
			inQuote = true
		case c == '{':
			inBraces = true
		case c == '}':
			inBraces = false
		case (c == ' ' || c == '\t') && !inBraces:
			return i
		}
	}
	return len(line)
}

// valueAndTime parses " value [unix seconds]".
func valueAndTime(rest []byte, now int64) (float64, int64, error) {
	f := bytes.Fields(rest)
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, fmt.Errorf("%w: want a value and an optional timestamp after the series", ErrSyntax)
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(f[0]), len(f[0])), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: value %q is not a number", ErrSyntax, f[0])
	}
	if len(f) == 1 {
		return v, now, nil
	}
	sec, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(f[1]), len(f[1])), 64)
	ms := math.Round(sec * 1000)
	if err != nil || math.IsNaN(ms) || ms > math.MaxInt64/2 || ms < math.MinInt64/2 {
		return 0, 0, fmt.Errorf("%w: timestamp %q is not unix seconds", ErrSyntax, f[1])
	}
	return v, int64(ms), nil
}
