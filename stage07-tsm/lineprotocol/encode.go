package lineprotocol

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrUnencodable rejects a point that line protocol cannot express: an
// empty name, a name ending in a backslash (it would escape the delimiter
// after it), a newline anywhere, a measurement starting with # (a comment),
// a NaN or infinite float, or no fields.
var ErrUnencodable = errors.New("line protocol: point cannot be encoded")

// AppendPoint appends p as one line (without a newline) to dst, escaping
// names and strings so that Parse gives p back.
func AppendPoint(dst []byte, p *Point) ([]byte, error) {
	if len(p.Measurement) > 0 && p.Measurement[0] == '#' {
		return dst, fmt.Errorf("%w: measurement starts with #", ErrUnencodable)
	}
	var err error
	if dst, err = appendName(dst, p.Measurement, measurementDelims); err != nil {
		return dst, err
	}
	for _, t := range p.Tags {
		dst = append(dst, ',')
		if dst, err = appendName(dst, t.Key, keyDelims); err != nil {
			return dst, err
		}
		dst = append(dst, '=')
		if dst, err = appendName(dst, t.Value, keyDelims); err != nil {
			return dst, err
		}
	}
	if len(p.Fields) == 0 {
		return dst, fmt.Errorf("%w: no fields", ErrUnencodable)
	}
	for i, f := range p.Fields {
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, ',')
		}
		if dst, err = appendName(dst, f.Key, keyDelims); err != nil {
			return dst, err
		}
		dst = append(dst, '=')
		if dst, err = appendValue(dst, f.Value); err != nil {
			return dst, err
		}
	}
	if p.HasTime {
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, p.Time, 10)
	}
	return dst, nil
}

func appendName(dst, name []byte, d delims) ([]byte, error) {
	if len(name) == 0 {
		return dst, fmt.Errorf("%w: empty name", ErrUnencodable)
	}
	if name[len(name)-1] == '\\' {
		return dst, fmt.Errorf("%w: name %q ends in a backslash", ErrUnencodable, name)
	}
	for _, c := range name {
		if c == '\n' {
			return dst, fmt.Errorf("%w: newline in name %q", ErrUnencodable, name)
		}
		if isEscapable(d, c) {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst, nil
}

func appendValue(dst []byte, v Value) ([]byte, error) {
	switch v.kind {
	case Float:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf("%w: float %v", ErrUnencodable, f)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	case Integer:
		return append(strconv.AppendInt(dst, v.Int(), 10), 'i'), nil
	case Unsigned:
		return append(strconv.AppendUint(dst, v.Uint(), 10), 'u'), nil
	case Boolean:
		if v.Bool() {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case String:
		dst = append(dst, '"')
		for _, c := range v.str {
			if c == '\n' {
				return dst, fmt.Errorf("%w: newline in string field", ErrUnencodable)
			}
			if c == '"' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
		}
		return append(dst, '"'), nil
	}
	return dst, fmt.Errorf("%w: unknown kind %d", ErrUnencodable, v.kind)
}
