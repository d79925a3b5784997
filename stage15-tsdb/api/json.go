package api

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql"
)

// appendStrings writes ,"<key>":[…] (nothing when l is empty): an
// answer's "warnings" or "infos".
func appendStrings(b []byte, key string, l []string) []byte {
	if len(l) == 0 {
		return b
	}
	b = append(b, ',')
	b = appendString(b, key)
	b = append(b, `:[`...)
	for i, w := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, w)
	}
	return append(b, ']')
}

// Query results are written by hand rather than through encoding/json: a
// range query over 10,000 series at 1,440 steps is 14 million points, and
// reflection would cost more than evaluating it. The shapes are
// Prometheus's:
//
//	vector  [{"metric":{…},"value":[<seconds>,"<value>"]}, …]
//	        a native histogram sample: "histogram":[<seconds>,<histogram>] instead of "value"
//	matrix  [{"metric":{…},"values":[[<seconds>,"<value>"], …],"histograms":[[<seconds>,<histogram>], …]}, …]
//	        (each member only when the series has points of its kind)
//	scalar  [<seconds>,"<value>"]
//	string  [<seconds>,"<string>"]
//
// Timestamps are seconds with up to three decimals (milliseconds), values
// are strings (so NaN and ±Inf fit in JSON).

// appendTime writes t (ms) as decimal seconds: 1435781451.781, -1.5 is
// written -1.500, whole seconds without a fraction.
func appendTime(b []byte, t int64) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	if f := t % 1000; f != 0 {
		b = append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	return b
}

// appendFloat writes a sample value as Prometheus's JSON does: the
// shortest decimal that reads back exactly, in exponent form when its
// magnitude is below 1e-6 or at least 1e21 (3.29e-07, 1e+21, as
// JavaScript's Number.toString), +Inf, -Inf and NaN as strconv spells them.
func appendFloat(b []byte, v float64) []byte {
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, v, format, -1, 64)
}

// appendPoint writes [<seconds>,"<value>"].
func appendPoint(b []byte, t int64, v float64) []byte {
	b = append(b, '[')
	b = appendTime(b, t)
	b = append(b, ',', '"')
	b = appendFloat(b, v)
	return append(b, '"', ']')
}

// appendHPoint writes [<seconds>,<histogram>], the histogram as
// Prometheus's API gives it: {"count":"<n>","sum":"<s>","buckets":[[<rule>,
// "<lower>","<upper>","<count>"], …]}, the populated buckets in increasing
// order of value (negative, zero, positive), rule saying which bounds are
// inclusive: 0 (lower, upper], 1 [lower, upper), 2 (lower, upper),
// 3 [lower, upper].
func appendHPoint(b []byte, t int64, h *histogram.FloatHistogram) []byte {
	b = append(b, '[')
	b = appendTime(b, t)
	b = append(b, `,{"count":"`...)
	b = appendFloat(b, h.Count)
	b = append(b, `","sum":"`...)
	b = appendFloat(b, h.Sum)
	b = append(b, '"')
	n := 0
	for _, bk := range h.Buckets() {
		if bk.Count == 0 {
			continue
		}
		if n == 0 {
			b = append(b, `,"buckets":[`...)
		} else {
			b = append(b, ',')
		}
		n++
		rule := byte('2')
		switch {
		case bk.LowerInclusive && bk.UpperInclusive:
			rule = '3'
		case bk.LowerInclusive:
			rule = '1'
		case bk.UpperInclusive:
			rule = '0'
		}
		b = append(b, '[', rule, ',', '"')
		b = appendFloat(b, bk.Lower)
		b = append(b, '"', ',', '"')
		b = appendFloat(b, bk.Upper)
		b = append(b, '"', ',', '"')
		b = appendFloat(b, bk.Count)
		b = append(b, '"', ']')
	}
	if n > 0 {
		b = append(b, ']')
	}
	return append(b, '}', ']')
}

// appendLabels writes a label set as a JSON object.
func appendLabels(b []byte, l model.Labels) []byte {
	b = append(b, '{')
	i := 0
	for lb := range l.All() {
		if i > 0 {
			b = append(b, ',')
		}
		i++
		b = appendString(b, lb.Name)
		b = append(b, ':')
		b = appendString(b, lb.Value)
	}
	return append(b, '}')
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendValue writes a query result's "resultType" and "result" members.
func appendValue(b []byte, v promql.Value) []byte {
	b, _ = appendValueLimit(b, v, math.MaxInt)
	return b
}

// appendValueLimit is appendValue that stops, with ok false, once b is
// longer than limit: checked after each series, so it overshoots by one
// series at most.
func appendValueLimit(b []byte, v promql.Value, limit int) (_ []byte, ok bool) {
	switch v := v.(type) {
	case promql.Vector:
		b = append(b, `"resultType":"vector","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Metric)
			if s.H != nil {
				b = append(b, `,"histogram":`...)
				b = appendHPoint(b, s.T, s.H)
			} else {
				b = append(b, `,"value":`...)
				b = appendPoint(b, s.T, s.F)
			}
			b = append(b, '}')
			if len(b) > limit {
				return b, false
			}
		}
		return append(b, ']'), true
	case promql.Matrix:
		b = append(b, `"resultType":"matrix","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Metric)
			if len(s.Floats) > 0 || len(s.Histograms) == 0 {
				b = append(b, `,"values":[`...)
				for j, p := range s.Floats {
					if j > 0 {
						b = append(b, ',')
					}
					b = appendPoint(b, p.T, p.V)
				}
				b = append(b, ']')
			}
			if len(s.Histograms) > 0 {
				b = append(b, `,"histograms":[`...)
				for j, p := range s.Histograms {
					if j > 0 {
						b = append(b, ',')
					}
					b = appendHPoint(b, p.T, p.H)
				}
				b = append(b, ']')
			}
			b = append(b, '}')
			if len(b) > limit {
				return b, false
			}
		}
		return append(b, ']'), true
	case promql.Scalar:
		b = append(b, `"resultType":"scalar","result":`...)
		return appendPoint(b, v.T, v.V), true
	case promql.String:
		b = append(b, `"resultType":"string","result":[`...)
		b = appendTime(b, v.T)
		b = append(b, ',')
		b = appendString(b, v.V)
		return append(b, ']'), true
	}
	return append(b, `"resultType":"","result":null`...), true
}

// minJSONBytes is a lower bound of the JSON appendValue writes for v,
// worked out without writing it: every point costs at least its
// timestamp's digits and a one-character value, every series its labels.
// A result whose bound is over the response limit is refused before a
// byte of it is written.
func minJSONBytes(v promql.Value) int64 {
	labels := func(l model.Labels) int64 {
		n := int64(len(`{"metric":{},"values":[]}`))
		for x := range l.All() {
			n += int64(len(x.Name) + len(x.Value) + len(`"":"",`))
		}
		return n
	}
	var n int64
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			n += labels(s.Metric) + int64(timeLen(s.T)+len(`[,"0"]`))
		}
	case promql.Matrix:
		for _, s := range v {
			n += labels(s.Metric)
			for _, p := range s.Floats {
				n += int64(timeLen(p.T) + len(`[,"0"],`))
			}
			for _, p := range s.Histograms {
				n += int64(timeLen(p.T) + len(`[,{"count":"0","sum":"0"}],`))
			}
		}
	}
	return n
}

// timeLen is the length of appendTime's output for t.
func timeLen(t int64) int {
	n := 0
	if t < 0 {
		n, t = 1, -t
	}
	if t%1000 != 0 {
		n += 4
	}
	t /= 1000
	for n++; t >= 10; t /= 10 {
		n++
	}
	return n
}
