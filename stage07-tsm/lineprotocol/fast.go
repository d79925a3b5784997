package lineprotocol

import "bytes"

var equals, comma = []byte{'='}, []byte{','}

// fastParse parses the common line — no backslash, no double quote — by
// sections, each split with bytes.IndexByte, which looks at 16 or 32 bytes
// per instruction where the scan looks at one: the key ends at the first
// space, tags at commas, each tag at its '='; the fields likewise; then the
// timestamp. It fills p exactly as the scan would, and returns false,
// having decided nothing, at the first thing that is not a well-formed
// common line (an escape, a quote, an empty name, a bad number …): the
// scan then parses the line again and finds the error, if there is one.
// FuzzFastParse holds the two to the same answers.
func fastParse(line []byte, p *Point) bool {
	line, sp := plainLine(line, p)
	if sp < 0 {
		return false
	}
	key := line[:sp]
	if c := bytes.IndexByte(key, ','); c >= 0 {
		p.Measurement = key[:c]
		// Every tag has one '=' (an unescaped '=' in a tag value is an
		// error): one count over the tag set checks them all.
		eqs := bytes.Count(key[c+1:], equals)
		for rest := key[c+1:]; ; {
			tag := rest
			next := bytes.IndexByte(rest, ',')
			if next >= 0 {
				tag = rest[:next]
			}
			eq := bytes.IndexByte(tag, '=')
			if eq <= 0 || eq == len(tag)-1 {
				return false // a tag needs a key and a value
			}
			p.Tags = append(p.Tags, Tag{Key: tag[:eq], Value: tag[eq+1:]})
			if next < 0 {
				break
			}
			rest = rest[next+1:]
		}
		if eqs != len(p.Tags) {
			return false
		}
	}
	return fastFields(line, sp, p)
}

// ParseFields parses a line whose key — its measurement and tag set, the
// bytes before the first space — the caller knows to be valid because
// Parse accepted a line with the same key before: it skips the tag set,
// leaving Tags empty, and parses the rest as Parse would. It returns false
// for a line that is not plain (a backslash or a double quote anywhere)
// or has anything wrong after the key; Parse then takes the line, and
// words the error if there is one.
//
// An ingester that remembers the keys it has checked (the series it has
// seen) reads a known series' lines with it at about half the cost.
func ParseFields(line []byte, p *Point) bool {
	line, sp := plainLine(line, p)
	if sp < 0 {
		return false
	}
	if c := bytes.IndexByte(p.Key, ','); c >= 0 {
		p.Measurement = p.Key[:c]
	}
	return fastFields(line, sp, p)
}

// plainLine strips a trailing \r, checks that the line has no backslash
// and a key of at least one byte followed by a space, and resets p with
// that key as its Key and Measurement. It returns the line and the index
// of the space, or -1.
func plainLine(line []byte, p *Point) ([]byte, int) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || line[0] == '#' || line[0] == ',' || bytes.IndexByte(line, '\\') >= 0 {
		return line, -1
	}
	key := line[:sp]
	p.Key, p.Measurement, p.Tags, p.Fields, p.Time, p.HasTime = key, key, p.Tags[:0], p.Fields[:0], 0, false
	p.buf = p.buf[:0]
	return line, sp
}

// fastFields parses the fields and the timestamp after the key's space.
func fastFields(line []byte, sp int, p *Point) bool {
	i := sp + 1
	for i < len(line) && line[i] == ' ' {
		i++
	}
	fields := line[i:]
	var ts []byte
	if end := bytes.IndexByte(fields, ' '); end >= 0 {
		fields, ts = fields[:end], fields[end+1:]
	}
	if len(fields) == 0 || bytes.IndexByte(fields, '"') >= 0 {
		return false // no fields, or a string field (which may hold spaces and commas)
	}
	// Each field is key=value: the key ends at the first '=', the value
	// at the next ',' (no quotes here, so no comma inside a value). A comma
	// in a key would go unseen, hence the count of commas at the end.
	commas := bytes.Count(fields, comma)
	for len(fields) > 0 {
		eq := bytes.IndexByte(fields, '=')
		if eq <= 0 {
			return false
		}
		key, rest := fields[:eq], fields[eq+1:]
		// The commonest value, a small integer (58i), is read as it is
		// scanned; anything else is cut at the comma for tokenValue.
		var n int64
		j := 0
		for ; j < len(rest) && j < 18 && rest[j]-'0' <= 9; j++ {
			n = n*10 + int64(rest[j]-'0')
		}
		var v Value
		if j > 0 && j < len(rest) && rest[j] == 'i' && (j+1 == len(rest) || rest[j+1] == ',') {
			v, fields = IntValue(n), rest[j+1:]
		} else {
			end := bytes.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return false
			}
			var ok bool
			if v, ok = tokenValue(rest[:end]); !ok {
				return false
			}
			fields = rest[end:]
		}
		p.Fields = append(p.Fields, Field{Key: key, Value: v})
		if len(fields) > 0 { // at a comma
			fields = fields[1:]
			if len(fields) == 0 {
				return false // a trailing comma
			}
		}
	}
	if commas != len(p.Fields)-1 {
		return false
	}

	for len(ts) > 0 && ts[0] == ' ' {
		ts = ts[1:]
	}
	if len(ts) == 0 {
		return true // no timestamp (or only trailing spaces)
	}
	if end := bytes.IndexByte(ts, ' '); end >= 0 {
		for _, c := range ts[end:] {
			if c != ' ' {
				return false
			}
		}
		ts = ts[:end]
	}
	n, ok := parseInt(ts)
	if !ok {
		return false
	}
	p.Time, p.HasTime = n, true
	return true
}
