package main

import (
	"bufio"
	"bytes"
	"net"
	"sync"
	"time"
)

// splitListener serves HTTP and raw line protocol on one port, as the
// guide's server does (`nc localhost 9090` and `curl localhost:9090/write`):
// it looks at a connection's first line and hands it to HTTP when that is
// an HTTP request line (`POST /write HTTP/1.1`), to the line-protocol
// listener otherwise.
type splitListener struct {
	net.Listener
	http, line chan net.Conn
	done       chan struct{}
	once       sync.Once
}

func newSplitListener(ln net.Listener) *splitListener {
	s := &splitListener{Listener: ln, http: make(chan net.Conn), line: make(chan net.Conn), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *splitListener) loop() {
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			s.once.Do(func() { close(s.done) })
			return
		}
		go s.route(c)
	}
}

var httpMethods = [][]byte{[]byte("GET "), []byte("POST "), []byte("PUT "), []byte("HEAD "), []byte("DELETE "), []byte("OPTIONS "), []byte("PATCH ")}

func (s *splitListener) route(c net.Conn) {
	br := bufio.NewReaderSize(c, 4096)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	isHTTP := false
	for n := 1; n <= 4096; {
		_, err := br.Peek(n) // waits for n bytes
		b, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line := bytes.TrimRight(b[:i], "\r")
			for _, m := range httpMethods {
				if bytes.HasPrefix(line, m) && (bytes.HasSuffix(line, []byte(" HTTP/1.1")) || bytes.HasSuffix(line, []byte(" HTTP/1.0"))) {
					isHTTP = true
				}
			}
			break
		}
		if err != nil {
			break
		}
		n = max(n, br.Buffered()) + 1
	}
	c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	ch := s.line
	if isHTTP {
		ch = s.http
	}
	select {
	case ch <- pc:
	case <-s.done:
		c.Close()
	}
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// sub is one side of the split, a net.Listener.
type sub struct {
	s  *splitListener
	ch chan net.Conn
}

func (l sub) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.s.done:
		return nil, net.ErrClosed
	}
}
func (l sub) Close() error   { return l.s.Close() }
func (l sub) Addr() net.Addr { return l.s.Addr() }

// Close closes the port.
func (s *splitListener) Close() error {
	err := s.Listener.Close()
	s.once.Do(func() { close(s.done) })
	return err
}

func (s *splitListener) HTTP() net.Listener { return sub{s, s.http} }
func (s *splitListener) Line() net.Listener { return sub{s, s.line} }
