package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// TestTCPCloseAnswersWritesUnderWay: closing the listener while a line is
// being written lets it be stored and answered (the client is not left
// without the OK of a stored write), and does not store the start of a
// line whose end had not arrived.
func TestTCPCloseAnswersWritesUnderWay(t *testing.T) {
	sink := newStuck()
	defer sink.release()
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tcp := NewTCP(p, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tcp.Serve(ln)
	defer ln.Close()

	// The second connection, accepted first, sends half a line:
	// "cpu,host=b usage=2" of "cpu,host=b usage=25 …".
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c2, "cpu,host=b usage=2")
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "cpu,host=a usage=1 1000000000\n")
	// The line is in a batch the sink is writing: its connection was
	// accepted, and so the one before it (Serve takes them in order).
	<-sink.entered
	tcp.stopReading()
	sink.release()
	reply, err := io.ReadAll(c)
	if string(reply) != "OK\n" {
		t.Fatalf("reply %q, %v; want OK", reply, err)
	}
	// Not answered: the connection ends, with a FIN, or with a reset when
	// the server closed it holding bytes it had not read (Linux sends RST
	// then; which one depends on how far the read loop got).
	if r, err := bufio.NewReader(c2).ReadString('\n'); r != "" || err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the half line was answered %q, %v", r, err)
	}
	tcp.Close()
	expect(t, sink.Series(), map[string][]model.Sample{`cpu_usage{host="a"}`: {{T: 1000, V: 1}}})
}

// TestTCPAcceptAfterClose: a connection Serve accepts once Close has begun
// (the listener's last one, taken in the race with its closing) is not
// served: Close did not see it, so it would read and store after Close
// returned (and the pipeline closed), or, added while Close waited for the
// others, keep Close waiting for as long as its client stays connected.
func TestTCPAcceptAfterClose(t *testing.T) {
	sink := ingest.NewMemorySink()
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tcp := NewTCP(p, Options{})
	tcp.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go tcp.Serve(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a failure's bound, not a sync
	fmt.Fprintf(c, "cpu,host=a usage=1 1000000000\n")
	if r, err := bufio.NewReader(c).ReadString('\n'); r != "" || err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("a connection accepted after Close was served: %q, %v", r, err)
	}
	if n := sink.Len(); n != 0 {
		t.Fatalf("%d series stored after Close", n)
	}
}
