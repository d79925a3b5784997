package lineprotocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxLineSize bounds one line so that a file without newlines cannot make
// the decoder buffer it whole.
const MaxLineSize = 16 << 20

// Decoder reads points line by line from a stream, skipping blank lines and
// # comments. Use it as
//
//	d := lineprotocol.NewDecoder(r)
//	var p lineprotocol.Point
//	for d.Next(&p) { use(&p) }
//	if err := d.Err(); err != nil { … }
//
// The point's slices alias the decoder's buffer: valid until the next call
// to Next.
type Decoder struct {
	r    *bufio.Reader
	line int
	err  error
	long []byte // a line longer than the reader's buffer, assembled
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 256<<10)}
}

// Line is the number of the line last read (1-based).
func (d *Decoder) Line() int { return d.line }

// Err is the error that stopped Next: a *SyntaxError with Line set, or a read
// error; nil at the end of the input.
func (d *Decoder) Err() error { return d.err }

// Next parses the next point into p. It returns false at the end of input or
// at the first error.
func (d *Decoder) Next(p *Point) bool {
	if d.err != nil {
		return false
	}
	for {
		line, err := d.readLine()
		if err != nil {
			if err != io.EOF {
				d.err = err
			}
			return false
		}
		d.line++
		if IsBlankOrComment(line) {
			continue
		}
		if err := Parse(line, p); err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				se.Line = d.line
			}
			d.err = err
			return false
		}
		return true
	}
}

// readLine returns the next line without its newline; io.EOF only when no
// bytes are left.
func (d *Decoder) readLine() ([]byte, error) {
	line, err := d.r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err == io.EOF {
		if len(line) == 0 {
			return nil, io.EOF
		}
		return line, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	// A line longer than the buffer: assemble it in d.long.
	d.long = append(d.long[:0], line...)
	for {
		line, err = d.r.ReadSlice('\n')
		d.long = append(d.long, line...)
		if len(d.long) > MaxLineSize {
			return nil, fmt.Errorf("line protocol: line %d longer than %d bytes", d.line+1, MaxLineSize)
		}
		switch err {
		case nil:
			return d.long[:len(d.long)-1], nil
		case io.EOF:
			return d.long, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, err
		}
	}
}

// IsBlankOrComment reports whether a line holds no point: only
// whitespace, or a comment (# after optional whitespace).
func IsBlankOrComment(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r':
			continue
		case '#':
			return true
		}
		return false
	}
	return true
}
