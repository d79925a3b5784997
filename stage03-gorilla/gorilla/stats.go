package gorilla

import "fmt"

// CodeStats counts the values coded one way and the bits they took,
// control bits included.
type CodeStats struct {
	Count int
	Bits  int
}

func (c *CodeStats) add(bits int) { c.Count++; c.Bits += bits }

// Stats says where a chunk's bits went: the breakdown the compress command
// prints, and the numbers behind the paper's Figure 2 style of argument
// ("51 % of values take one bit").
type Stats struct {
	Samples       int
	HeaderBits    int // the 16-bit count/encoding header
	TimestampBits int // first timestamp, first delta and every delta-of-delta
	ValueBits     int // first value and every coded value
	PaddingBits   int // zero bits that fill the last byte

	// XOR chunks: values after the first, by control bits.
	Zero      CodeStats // '0'  repeated value
	Reuse     CodeStats // '10' meaningful bits inside the previous window
	NewWindow CodeStats // '11' new window: 5+6 bits of position, then the bits

	// Integer chunks: values after the first.
	IntZero  CodeStats // '0' unchanged
	IntDelta CodeStats // any other bucket
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Samples += o.Samples
	s.HeaderBits += o.HeaderBits
	s.TimestampBits += o.TimestampBits
	s.ValueBits += o.ValueBits
	s.PaddingBits += o.PaddingBits
	for _, p := range [][2]*CodeStats{{&s.Zero, &o.Zero}, {&s.Reuse, &o.Reuse}, {&s.NewWindow, &o.NewWindow}, {&s.IntZero, &o.IntZero}, {&s.IntDelta, &o.IntDelta}} {
		p[0].Count += p[1].Count
		p[0].Bits += p[1].Bits
	}
}

// Stats decodes the chunk and attributes every bit to what it codes.
func (c *Chunk) Stats() (Stats, error) { return ChunkStats(c.Bytes()) }

// ChunkStats is Chunk.Stats on chunk bytes.
func ChunkStats(b []byte) (Stats, error) {
	var s Stats
	var it decoder
	it.reset(b)
	if it.err != nil {
		return s, it.err
	}
	s.HeaderBits = headerSize * 8
	last := it.r.pos
	mark := func() int { d := it.r.pos - last; last = it.r.pos; return d }
	for it.read < it.total && it.err == nil {
		switch it.read {
		case 0:
			// Step through the iterator's own code for sample 0, then split
			// its bits: the timestamp varint is as long as it is.
			start := it.r.pos
			if !it.step() {
				break
			}
			tbits := 8 * varintLen(it.t)
			s.TimestampBits += tbits
			s.ValueBits += it.r.pos - start - tbits
			mark()
		case 1:
			d, ok := it.uvarint()
			if !ok {
				break
			}
			it.tDelta = int64(d)
			it.t += it.tDelta
			s.TimestampBits += mark()
			s.classify(&it, mark)
		default:
			it.tDelta += it.r.readDod()
			it.t += it.tDelta
			s.TimestampBits += mark()
			s.classify(&it, mark)
		}
	}
	if it.err != nil {
		return s, it.err
	}
	if it.r.overrun() {
		return s, fmt.Errorf("%w: chunk ends inside a sample", ErrCorrupt)
	}
	s.Samples = it.total
	s.PaddingBits = len(b)*8 - it.r.pos
	if s.PaddingBits >= 8 {
		return s, fmt.Errorf("%w: %d bytes after the last sample", ErrCorrupt, s.PaddingBits/8)
	}
	return s, nil
}

// classify decodes one value after the first and files its bits.
func (s *Stats) classify(it *decoder, mark func() int) {
	word := it.r.peek()
	if !it.readValue() {
		return
	}
	it.read++
	n := mark()
	s.ValueBits += n
	switch {
	case it.enc == Integer && word>>63 == 0:
		s.IntZero.add(n)
	case it.enc == Integer:
		s.IntDelta.add(n)
	case word>>63 == 0:
		s.Zero.add(n)
	case word>>62&1 == 0:
		s.Reuse.add(n)
	default:
		s.NewWindow.add(n)
	}
}

// varintLen is the length of binary.PutVarint's encoding of x.
func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	n := 1
	for ux >= 0x80 {
		ux >>= 7
		n++
	}
	return n
}
