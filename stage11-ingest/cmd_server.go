package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/ingest/server"
)

// serverOpts are the server's settings.
type serverOpts struct {
	listen   string
	port     int
	grpcPort int
	dataDir  string
	sink     string
	bp       ingest.Backpressure
}

// ingestServer is a running server: its listeners, pipeline and sink.
type ingestServer struct {
	split     *splitListener
	grpcLn    net.Listener
	http      *http.Server
	tcp       *server.TCP
	p         *ingest.Pipeline
	closeSink func() error
}

// startServer opens the sink and listens: line protocol and HTTP on one
// port, OTLP gRPC on another (grpcPort < 0: none).
func startServer(o serverOpts, log *slog.Logger) (*ingestServer, error) {
	sink, closeSink, err := openSink(o.sink, o.dataDir, tsdb.Options{})
	if err != nil {
		return nil, err
	}
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		closeSink()
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.port)))
	if err != nil {
		p.Close()
		closeSink()
		return nil, err
	}
	so := server.Options{Backpressure: o.bp, Logger: log}
	if hs, ok := sink.(ingest.HistogramSink); ok {
		so.Histograms = hs // native histograms stored beside the pipeline's floats
	}
	h := server.NewHTTP(p, so)
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		st := p.Stats()
		fmt.Fprintf(w, "batches %d\npoints %d\nrefused %d\nqueued %d/%d\nrejected_writes %d\nhistograms_dropped %d\nstring_fields_skipped %d\n",
			st.Batches, st.Points, st.Refused, st.Queued, st.QueueCap, st.Rejected, h.HistogramsDropped.Load(), h.StringFieldsSkipped.Load())
	})
	s := &ingestServer{split: newSplitListener(ln), http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, tcp: server.NewTCP(p, so), p: p, closeSink: closeSink}
	go s.http.Serve(s.split.HTTP())
	go s.tcp.Serve(s.split.Line())
	if o.grpcPort >= 0 {
		if s.grpcLn, err = net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.grpcPort))); err != nil {
			s.Close()
			return nil, err
		}
		gs := h.GRPC()
		go gs.Serve(s.grpcLn)
		go func() { <-s.split.done; gs.GracefulStop() }()
	}
	return s, nil
}

// Addr is the line-protocol and HTTP address.
func (s *ingestServer) Addr() string { return s.split.Addr().String() }

// Close stops listening, answers the writes under way and closes the sink.
func (s *ingestServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.split.Close()
	if s.grpcLn != nil {
		s.grpcLn.Close()
	}
	err := s.http.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // the split listener under it is closed already
	}
	s.tcp.Close()
	s.p.Close()
	return errors.Join(err, s.closeSink())
}

func cmdServer(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "server", "[flags]", stderr)
	var o serverOpts
	fs.StringVar(&o.listen, "listen", "127.0.0.1", "address to listen on")
	fs.IntVar(&o.port, "port", 9090, "port of line protocol (TCP) and HTTP")
	fs.IntVar(&o.grpcPort, "grpc-port", 4317, "port of OTLP over gRPC (-1: none)")
	fs.StringVar(&o.dataDir, "data-dir", "data", "the blocks sink's directory (stage06: WAL, head chunks, blocks)")
	fs.StringVar(&o.sink, "sink", "blocks", "blocks, memory or discard")
	bp := fs.String("backpressure", "block", "block (wait, then refuse) or reject (refuse at once) when the queue is full")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	var err error
	if o.bp, err = ingest.ParseBackpressure(*bp); err != nil {
		return cli.Usagef("%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	s, err := startServer(o, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Ingestion server listening on %s\n", s.Addr())
	fmt.Fprintf(stdout, "Protocol: InfluxDB line protocol compatible (TCP and HTTP /write, /api/v2/write), Prometheus remote write (/api/v1/write), OTLP (/api/v1/otlp/v1/metrics")
	if o.grpcPort >= 0 {
		fmt.Fprintf(stdout, "; gRPC on %s", s.grpcLn.Addr())
	}
	fmt.Fprintf(stdout, ")\nSink: %s, back-pressure: %s\n", sinkName(o.sink), o.bp)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	return s.Close()
}
