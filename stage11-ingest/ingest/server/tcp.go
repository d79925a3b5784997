package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// TCP serves InfluxDB line protocol on a plain TCP connection, as the
// guide's `echo "cpu,host=server1 usage=0.75 1703001600000000000" | nc
// localhost 9090` does. Timestamps are nanoseconds.
//
// Every line gets one reply line, in order, once its fate is known:
//
//	OK                       the line's values are in the sink
//	ERR <reason>             the line was not stored: a syntax error, a limit
//	                         (named), a value the storage refused, a sink failure
//	ERR backpressure         the queue was full (Reject mode, or Block mode after
//	                         waiting): send the line again later
//
// A connection reads what has arrived (whole lines, up to 1 MiB), writes it
// as one pipeline write, waits for its acknowledgement, then replies to
// each of its lines: a client that sends many lines at once gets its
// replies in as few segments. A client must read its replies (or close its
// side): the server stops reading while its replies cannot be sent.
type TCP struct {
	p    *ingest.Pipeline
	o    Options
	keys *influx.KeySet

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool // Close has begun: a connection accepted now is not served
	wg     sync.WaitGroup
}

// NewTCP returns the listener over p.
func NewTCP(p *ingest.Pipeline, o Options) *TCP {
	o = o.withDefaults()
	return &TCP{p: p, o: o, keys: o.keySet(), conns: map[net.Conn]struct{}{}}
}

// Serve accepts connections on ln until it is closed.
func (t *TCP) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		t.mu.Lock()
		if t.closed {
			// Accepted in the race with the listener's closing: Close
			// has set the deadlines of the connections it knows and may
			// be waiting for them already.
			t.mu.Unlock()
			c.Close()
			continue
		}
		t.conns[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.wg.Done()
			t.serve(c)
			t.mu.Lock()
			delete(t.conns, c)
			t.mu.Unlock()
		}()
	}
}

// Close ends every connection and waits for their goroutines (the
// listener is the caller's to close). A connection reads no more lines;
// the lines it has read are written and answered first, so that a client
// is not left without the reply to a write that was stored. A client that
// does not read its replies gets closeWriteGrace to take them.
func (t *TCP) Close() {
	t.stopReading()
	t.wg.Wait()
}

// closeWriteGrace bounds a closing connection's last writes and replies
// (a Block write may wait 5 s for room first).
const closeWriteGrace = 15 * time.Second

func (t *TCP) stopReading() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	now := time.Now()
	for c := range t.conns {
		c.SetReadDeadline(now)
		c.SetWriteDeadline(now.Add(closeWriteGrace))
	}
}

const tcpChunk = 1 << 20

func (t *TCP) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, t.o.Limits.MaxLineBytes+1)
	out := bufio.NewWriterSize(c, 64<<10)
	d := influx.Decoder{Limits: t.o.Limits, Keys: t.keys}
	var chunk []byte
	var replies []string // per line: "" OK, else the error
	lines := 0           // lines of the connection answered so far
	for {
		chunk, replies = chunk[:0], replies[:0]
		// One line, waiting for it; then whatever whole lines are already
		// buffered, without waiting.
		for len(chunk) < tcpChunk {
			if len(replies) > 0 && !hasLine(r) {
				break
			}
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				replies = append(replies, (&ingest.LimitError{Limit: ingest.LimitLine, Max: int64(t.o.Limits.MaxLineBytes), Got: int64(len(line)), What: "a line"}).Error())
				chunk = append(chunk, '\n') // keep line numbers aligned
				if err := skipLine(r); err != nil {
					t.reply(out, replies)
					return
				}
				continue
			}
			// A last line without its newline is a line at the end of the
			// stream (`echo -n`), but only there: cut by an error (a reset,
			// Close's deadline) it may be the start of a longer one.
			if len(line) > 0 && (err == nil || err == io.EOF) {
				chunk = append(chunk, line...)
				if line[len(line)-1] != '\n' {
					chunk = append(chunk, '\n')
				}
				replies = append(replies, "")
			}
			if err != nil {
				if len(replies) > 0 {
					t.write(&d, chunk, replies, lines)
					t.reply(out, replies)
				}
				if err != io.EOF {
					t.o.Logger.Debug("tcp read", "remote", c.RemoteAddr(), "err", err)
				}
				return
			}
		}
		t.write(&d, chunk, replies, lines)
		if err := t.reply(out, replies); err != nil {
			return
		}
		lines += len(replies)
	}
}

func hasLine(r *bufio.Reader) bool {
	b, _ := r.Peek(r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

func skipLine(r *bufio.Reader) error {
	for {
		_, err := r.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// write stores a chunk of lines and fills replies ("" stays OK). before is
// the number of the connection's lines before the chunk: an error names
// its line in the connection, whatever the reads that brought it.
func (t *TCP) write(d *influx.Decoder, chunk []byte, replies []string, before int) {
	wr, err := t.p.Begin(context.Background(), t.o.Backpressure)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, ingest.ErrBackpressure) {
			msg = "backpressure"
		}
		for i := range replies {
			if replies[i] == "" {
				replies[i] = msg
			}
		}
		return
	}
	now := t.o.Now().UnixMilli()
	// Line by line, to know which points each line added.
	var firstPoint []int // per line, the index of its first point
	line := 0
	for rest := chunk; len(rest) > 0; line++ {
		i := bytes.IndexByte(rest, '\n')
		firstPoint = append(firstPoint, wr.Points())
		if replies[line] == "" {
			if st := d.Decode(wr, rest[:i], influx.Nanosecond, now); st.Bad > 0 {
				var le *influx.LineError
				if errors.As(st.Errors[0], &le) {
					le.Line = before + line + 1
				}
				replies[line] = st.Errors[0].Error()
			}
		}
		rest = rest[i+1:]
	}
	res, err := wr.Commit(context.Background())
	if err != nil {
		for i := range replies {
			if replies[i] == "" {
				replies[i] = err.Error()
			}
		}
		return
	}
	for _, at := range res.RefusedAt {
		// The line whose points include at: the last line starting at or before it.
		l := 0
		for l+1 < len(firstPoint) && firstPoint[l+1] <= at {
			l++
		}
		if replies[l] == "" {
			replies[l] = "refused by the storage: " + res.First.Error()
		}
	}
}

// reply writes one line per entry of replies.
func (t *TCP) reply(out *bufio.Writer, replies []string) error {
	for _, r := range replies {
		if r == "" {
			out.WriteString("OK\n")
			continue
		}
		out.WriteString("ERR ")
		q := strconv.Quote(r) // one line, escapes visible
		out.WriteString(q[1 : len(q)-1])
		out.WriteByte('\n')
	}
	return out.Flush()
}
