package remote

import (
	"io"
)

// HeaderChunkEncodings names, in a remote-read request, the chunk
// encodings other than Prometheus's XOR that the client reads
// (comma-separated; ChunkEncodingStage03 is the only one). Prometheus sends
// no such header and gets XOR chunks; nodes of this workspace ask for
// stage03 chunks and get them as stored, without re-encoding.
const (
	HeaderChunkEncodings = "X-Remote-Read-Chunk-Encodings"
	ChunkEncodingStage03 = "stage03"
)

// DefaultFrameBytes is the size a ChunkedWriter's frames grow to before
// it sends them: Prometheus's default remote_read_max_bytes_in_frame.
const DefaultFrameBytes = 1 << 20

// ChunkedWriter writes a streamed (STREAMED_XOR_CHUNKS) read answer:
// whole series gathered into frames of about maxFrame bytes, a frame
// holding the series of one query only, each frame flushed as it is
// complete, so the answer streams instead of being built in memory. A
// series larger than maxFrame gets a frame of its own.
type ChunkedWriter struct {
	w        io.Writer
	flush    func()
	maxFrame int
	msg      []byte // the series of the frame being filled
	query    int64
	frame    []byte
	frames   int
}

// NewChunkedWriter writes frames to w, calling flush (if not nil) after
// each: an http.ResponseWriter's Flush, so the client sees each frame as
// it is written.
func NewChunkedWriter(w io.Writer, flush func(), maxFrame int) *ChunkedWriter {
	return &ChunkedWriter{w: w, flush: flush, maxFrame: maxFrame}
}

// Write adds a series to the answer for the query at queryIndex. Its
// chunks' Data is copied before Write returns.
func (c *ChunkedWriter) Write(queryIndex int64, s ChunkedSeries) error {
	if len(c.msg) > 0 && queryIndex != c.query {
		if err := c.Flush(); err != nil {
			return err
		}
	}
	c.query = queryIndex
	// A ChunkedReadResponse is its repeated series (field 1) and the
	// query index (field 2): series are appended one by one and the
	// index when the frame is sent.
	c.msg = AppendChunkedReadResponse(c.msg, []ChunkedSeries{s}, 0)
	if len(c.msg) >= c.maxFrame {
		return c.Flush()
	}
	return nil
}

// Flush sends the frame being filled, if any. Call it once at the end.
func (c *ChunkedWriter) Flush() error {
	if len(c.msg) == 0 {
		return nil
	}
	c.msg = appendVarintField(c.msg, fieldChunkedQuery, uint64(c.query))
	c.frame = AppendFrame(c.frame[:0], c.msg)
	c.msg = c.msg[:0]
	c.frames++
	if _, err := c.w.Write(c.frame); err != nil {
		return err
	}
	if c.flush != nil {
		c.flush()
	}
	return nil
}

// Frames is the number of frames sent so far.
func (c *ChunkedWriter) Frames() int { return c.frames }
