package lineprotocol

import (
	"errors"
	"fmt"
)

// ErrSyntax is matched (errors.Is) by every parse error.
var ErrSyntax = errors.New("line protocol: syntax error")

// SyntaxError locates a parse error: Line is 1-based (0 when a single line
// was parsed with Parse), Column is the 1-based byte offset in the line of
// the byte that could not be accepted.
type SyntaxError struct {
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }
