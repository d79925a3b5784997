package chunks

import "fmt"

// Encoding is the kind of samples a stored chunk holds. It is read from the
// chunk's first byte, so chunk files need no field of their own for it and
// every chunk written before histograms existed reads as it always did:
//
//	first byte 00xx xxxx, 01xx xxxx  a Gorilla chunk (stage03): its header's top
//	                                 bits are its value encoding, XOR (0) or Integer (1)
//	first byte 1000 0000             a histogram chunk: this byte, then the chunk
//	first byte 1100 0000             a float histogram chunk: this byte, then the chunk
//	first byte 1010 000x             a cold float chunk (cold.go), written by compaction
//
// A Gorilla chunk never starts with a set top bit (stage03 has two
// encodings), so the byte costs nothing on float chunks and one byte on
// each histogram chunk. The same two bits are copied into the top of a
// chunk's Ref (see Ref.Encoding), so that a query knows which decoder a
// chunk needs from the index alone, without reading it.
type Encoding uint8

const (
	EncFloat          Encoding = 0 // Gorilla (XOR or Integer values)
	EncHistogram      Encoding = 2 // integer native histograms
	EncFloatHistogram Encoding = 3 // float native histograms
)

func (e Encoding) String() string {
	switch e {
	case EncFloat:
		return "float"
	case EncHistogram:
		return "histogram"
	case EncFloatHistogram:
		return "floathistogram"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// Marker is the first byte of a stored chunk of encoding e (EncFloat has
// none: the Gorilla header is the first byte).
func (e Encoding) Marker() byte { return byte(e) << 6 }

// EncodingOf is the encoding of the stored chunk b.
func EncodingOf(b []byte) Encoding {
	if len(b) == 0 {
		return EncFloat
	}
	switch b[0] {
	case EncHistogram.Marker():
		return EncHistogram
	case EncFloatHistogram.Marker():
		return EncFloatHistogram
	}
	return EncFloat // a Gorilla chunk, or a cold one (IsCold)
}

// refEncShift: the top two bits of a Ref hold its chunk's Encoding. File
// numbers stay far below 2^30.
const (
	refEncShift = 62
	refFileMask = 1<<30 - 1
)

// Encoding is the encoding of the chunk the ref points at, as the writer
// recorded it (a Ref without it, written before histograms, is EncFloat).
func (r Ref) Encoding() Encoding { return Encoding(r >> refEncShift) }

// WithEncoding returns r marked with e.
func (r Ref) WithEncoding(e Encoding) Ref {
	return r&^(3<<refEncShift) | Ref(e)<<refEncShift
}
