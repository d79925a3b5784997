package tsm

import (
	"bytes"
	"slices"

	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// FieldSeparator joins a series key and a field name into a storage key,
// as in InfluxDB. It is chosen to be unlikely in real names; the engine
// rejects series keys that contain it, so the first occurrence always
// splits a key unambiguously.
const FieldSeparator = "#!~#"

// maxKeySize is the longest key: the index stores key lengths in 16 bits.
const maxKeySize = 1<<16 - 1

// AppendSeriesKey appends the canonical series key of p to dst:
// measurement, then ",tag=value" for every tag sorted by tag name, escaped as
// line protocol escapes them (comma, space; and = in tags), so that two
// different tag sets never give the same key. tags is scratch space for the
// sort, returned for reuse.
func AppendSeriesKey(dst []byte, p *lineprotocol.Point, tags []lineprotocol.Tag) ([]byte, []lineprotocol.Tag) {
	dst = appendEscaped(dst, p.Measurement, true)
	tags = append(tags[:0], p.Tags...)
	if !slices.IsSortedFunc(tags, cmpTag) {
		slices.SortFunc(tags, cmpTag)
	}
	for _, t := range tags {
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key, true)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value, true)
	}
	return dst, tags
}

func cmpTag(a, b lineprotocol.Tag) int { return bytes.Compare(a.Key, b.Key) }

// appendEscaped escapes comma, space and = (every part of a key, the
// measurement included, so that one unescape rule reads them all back).
func appendEscaped(dst, s []byte, eq bool) []byte {
	for _, c := range s {
		if c == ',' || c == ' ' || (eq && c == '=') {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst
}

// FieldKey is the storage key of one field of a series.
func FieldKey(series, field string) string { return series + FieldSeparator + field }

// SplitKey splits a storage key into series key and field name.
func SplitKey(key string) (series, field string, ok bool) {
	i := bytes.Index([]byte(key), []byte(FieldSeparator))
	if i < 0 {
		return key, "", false
	}
	return key[:i], key[i+len(FieldSeparator):], true
}

// parseSeriesKey splits a series key into its measurement and tags
// (unescaped), in key order.
func parseSeriesKey(series string) (measurement string, tags [][2]string) {
	parts := splitUnescaped(series, ',')
	measurement = unescape(parts[0])
	for _, p := range parts[1:] {
		kv := splitUnescaped(p, '=')
		if len(kv) != 2 {
			continue
		}
		tags = append(tags, [2]string{unescape(kv[0]), unescape(kv[1])})
	}
	return measurement, tags
}

// measurementOf is the measurement of a series or storage key (unescaped).
func measurementOf(key string) string {
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '\\':
			if i+1 < len(key) && isKeyEscapable(key[i+1]) {
				i++
			}
		case ',':
			return unescape(key[:i])
		}
	}
	s, _, _ := SplitKey(key)
	return unescape(s)
}

// measurementPrefix is the byte prefix every key of measurement m starts
// with (followed by ',' or the field separator): keys of one measurement
// are contiguous in a sorted index.
func measurementPrefix(m string) string { return string(appendEscaped(nil, []byte(m), true)) }

func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && isKeyEscapable(s[i+1]) {
				i++
			}
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescape(s string) string {
	if !bytes.ContainsRune([]byte(s), '\\') {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && isKeyEscapable(s[i+1]) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// isKeyEscapable: the bytes a backslash escapes in a key. A backslash before
// anything else is literal, exactly as in line protocol.
func isKeyEscapable(c byte) bool { return c == ',' || c == ' ' || c == '=' }
