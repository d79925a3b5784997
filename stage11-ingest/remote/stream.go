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

// DefaultFrameBytes is the size of a ChunkedWriter's frames: Prometheus's
// default remote_read_max_bytes_in_frame.
const DefaultFrameBytes = 1 << 20

// ChunkedWriter writes a streamed (STREAMED_XOR_CHUNKS) read answer the
// way Prometheus's server does (storage/remote.StreamChunkedReadResponses),
// which is what its client expects: one series per frame, a series whose
// chunks pass maxFrame bytes split over several frames (each with the
// series' labels), each frame flushed as it is written, so the answer
// streams instead of being built in memory. A reader appends the chunks
// of consecutive frames with the same labels.
type ChunkedWriter struct {
	w        io.Writer
	flush    func()
	maxFrame int
	msg      []byte
	frame    []byte
	frames   int
}

// NewChunkedWriter writes frames to w, calling flush (if not nil) after
// each: an http.ResponseWriter's Flush, so the client sees each frame as
// it is written.
func NewChunkedWriter(w io.Writer, flush func(), maxFrame int) *ChunkedWriter {
	return &ChunkedWriter{w: w, flush: flush, maxFrame: maxFrame}
}

// Write sends a series of the answer to the query at queryIndex, in one
// frame or more; a series without chunks sends nothing. Its chunks' Data
// may be reused once Write returns.
func (c *ChunkedWriter) Write(queryIndex int64, s ChunkedSeries) error {
	left := c.maxFrame - labelsBytes(s)
	start := 0
	for i, ch := range s.Chunks {
		left -= len(ch.Data) + 24 // the chunk's other fields, about
		if left > 0 && i+1 < len(s.Chunks) {
			continue
		}
		part := ChunkedSeries{Labels: s.Labels, Chunks: s.Chunks[start : i+1]}
		c.msg = AppendChunkedReadResponse(c.msg[:0], []ChunkedSeries{part}, queryIndex)
		c.frame = AppendFrame(c.frame[:0], c.msg)
		c.frames++
		if _, err := c.w.Write(c.frame); err != nil {
			return err
		}
		if c.flush != nil {
			c.flush()
		}
		start, left = i+1, c.maxFrame-labelsBytes(s)
	}
	return nil
}

func labelsBytes(s ChunkedSeries) int {
	n := 0
	for l := range s.Labels.All() {
		n += labelSize(l) + 2
	}
	return n
}

// Frames is the number of frames sent so far.
func (c *ChunkedWriter) Frames() int { return c.frames }
