package gorilla

import "encoding/binary"

// NumSamples returns the sample count in the header of the chunk bytes b,
// without decoding anything (0 for bytes too short to have a header). A
// reader decoding many chunks sizes its buffer once with it.
func NumSamples(b []byte) int {
	if len(b) < headerSize {
		return 0
	}
	return int(binary.BigEndian.Uint16(b) & countMask)
}
