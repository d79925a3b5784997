package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/ingest/server"
	"google.golang.org/grpc"
)

// serverOpts are the server's settings.
type serverOpts struct {
	listen   string
	port     int
	grpcPort int
	dataDir  string
	sink     string
	walSync  wal.SyncPolicy // blocks sink; the zero value is batch
	bp       ingest.Backpressure
	limits   ingest.Limits
}

// ingestServer is a running server: its listeners, pipeline and sink.
type ingestServer struct {
	split     *splitListener
	grpcLn    net.Listener
	grpc      *grpc.Server
	http      *http.Server
	tcp       *server.TCP
	p         *ingest.Pipeline
	closeSink func() error
}

// startServer listens, then opens the sink: line protocol and HTTP on one
// port, OTLP gRPC on another (grpcPort < 0: none). The ports come first so
// that a server that cannot have them never opens (and replays, and
// closes) a data directory.
func startServer(o serverOpts, log *slog.Logger) (*ingestServer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.port)))
	if err != nil {
		return nil, fmt.Errorf("--port %d: %w", o.port, err)
	}
	var grpcLn net.Listener
	if o.grpcPort >= 0 {
		if grpcLn, err = net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.grpcPort))); err != nil {
			ln.Close()
			return nil, fmt.Errorf("--grpc-port %d (OTLP gRPC; -1 for none): %w", o.grpcPort, err)
		}
	}
	closeLns := func() {
		ln.Close()
		if grpcLn != nil {
			grpcLn.Close()
		}
	}
	var sink ingest.Sink
	var closeSink func() error
	if o.sink == "blocks" {
		db, closeDB, err := openBlocks(o.dataDir, sinkOptions(o.walSync))
		if err != nil {
			closeLns()
			return nil, err
		}
		logRecovery(log, db)
		sink, closeSink = ingest.NewBlocksSink(db), closeDB
	} else if sink, closeSink, err = openSink(o.sink, "", sinkOptions(o.walSync)); err != nil {
		closeLns()
		return nil, err
	}
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		closeLns()
		closeSink()
		return nil, err
	}
	so := server.Options{Backpressure: o.bp, Logger: log, Limits: o.limits}
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
	// What load balancers, readiness probes and InfluxDB clients ask
	// before writing: InfluxDB v1's /ping and v2's /health.
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintln(w, `{"name":"stage11-ingest","status":"pass","message":"ready for writes"}`)
	})
	s := &ingestServer{split: newSplitListener(ln), grpcLn: grpcLn, http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, tcp: server.NewTCP(p, so), p: p, closeSink: closeSink}
	go s.http.Serve(s.split.HTTP())
	go s.tcp.Serve(s.split.Line())
	if grpcLn != nil {
		s.grpc = h.GRPC()
		go s.grpc.Serve(grpcLn)
	}
	return s, nil
}

// openBlocks opens stage06's DB in dir. stage06 locks the directory (its
// lock file, as Prometheus does), so a second server on it fails at once
// (tsdb.ErrLocked) instead of writing into the first one's WAL.
func openBlocks(dir string, opts tsdb.Options) (*tsdb.DB, func() error, error) {
	db, err := tsdb.Open(dir, opts)
	if err != nil {
		return nil, nil, err
	}
	return db, db.Close, nil
}

// logRecovery says what opening the data directory found: an operator
// restarting after a crash wants to see the WAL replayed and any damage.
func logRecovery(log *slog.Logger, db *tsdb.DB) {
	dir, _ := filepath.Abs(db.Dir())
	r := db.Recovery()
	log.Info("data directory opened", "dir", dir, "blocks", r.Blocks, "wal_records", r.WALRecords,
		"series", r.SeriesLoaded, "samples", r.SamplesLoaded, "took", r.Duration.Round(time.Millisecond))
	if t := r.WALTruncated; t != nil {
		log.Warn("WAL torn tail cut off (a write that was never acknowledged)", "segment", t.Segment, "offset", t.Offset, "bytes", t.Bytes, "reason", t.Reason)
	}
	for _, d := range r.Damaged {
		log.Warn("damaged block moved aside, not served", "block", d)
	}
	if r.HeadChunksErr != nil {
		log.Warn("damaged head chunks discarded (their samples were replayed from the WAL)", "err", r.HeadChunksErr)
	}
}

// Addr is the line-protocol and HTTP address.
func (s *ingestServer) Addr() string { return s.split.Addr().String() }

// Close stops listening, answers the writes under way and closes the sink.
func (s *ingestServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.split.Close()
	if s.grpc != nil {
		s.grpc.GracefulStop() // waits for the Exports under way
	}
	err := s.http.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // the split listener under it is closed already
	}
	s.tcp.Close()
	s.p.Close()
	return errors.Join(err, s.closeSink())
}

const serverSynopsis = `[flags]

Line protocol on plain TCP (one reply line per line: OK or ERR <reason>) and
HTTP share --port: POST /write (InfluxDB v1), /api/v2/write (v2),
/api/v1/write (Prometheus remote write 1.0, 2.0), /api/v1/otlp/v1/metrics
(OTLP), GET /stats, /ping, /health; OTLP gRPC on --grpc-port. A write is answered once it
is in the sink (with blocks: in the WAL, fsynced as --wal-sync says). SIGINT
or SIGTERM: stop listening, answer the writes under way, close the sink.
`

// serverFlags defines the server's flags into o; the back-pressure mode
// comes back as text, for the caller to parse.
func serverFlags(fs *flag.FlagSet, o *serverOpts) (bp, walSync *string) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1", "address to listen on (0.0.0.0: every interface)")
	fs.IntVar(&o.port, "port", 9090, "port of line protocol (plain TCP) and HTTP, told apart by a connection's first line")
	fs.IntVar(&o.grpcPort, "grpc-port", 4317, "port of OTLP over gRPC (-1: none)")
	fs.StringVar(&o.dataDir, "data-dir", "data", "the blocks sink's directory (stage06: WAL, head chunks, blocks), created if needed and locked")
	fs.StringVar(&o.sink, "sink", "blocks", "blocks (stage06, WAL fsynced before each answer), memory (lost at exit) or discard")
	bp = fs.String("backpressure", "block", "when the queue is full: block (wait up to 5 s, then 429 / ERR backpressure) or reject (at once)")
	walSync = walSyncFlag(fs)
	// The limits' flags have the names their errors give (ingest.Limit…).
	fs.Int64Var(&o.limits.MaxBodyBytes, ingest.LimitBody, 32<<20, "largest HTTP body, in bytes after gzip/snappy (413 over it)")
	fs.IntVar(&o.limits.MaxLineBytes, ingest.LimitLine, 256<<10, "longest line of line protocol or text, in bytes (that line refused)")
	fs.IntVar(&o.limits.MaxLabels, ingest.LimitLabels, 64, "most labels of a series, the metric name included")
	fs.IntVar(&o.limits.MaxLabelNameBytes, ingest.LimitNameBytes, 256, "longest label name, in bytes")
	fs.IntVar(&o.limits.MaxLabelValueBytes, ingest.LimitValueBytes, 4096, "longest label value (the metric name included), in bytes")
	return bp, walSync
}

func cmdServer(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "server", serverSynopsis, stderr)
	var o serverOpts
	bp, walSync := serverFlags(fs, &o)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	var err error
	if o.bp, err = ingest.ParseBackpressure(*bp); err != nil {
		return cli.Usagef("%v", err)
	}
	if o.walSync, err = wal.ParseSyncPolicy(*walSync); err != nil {
		return cli.Usagef("--wal-sync: %v", err)
	}
	if err := o.check(); err != nil {
		return err
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
	fmt.Fprintf(stdout, ")\nSink: %s, back-pressure: %s\n%s\n", sinkName(o.sink, o.walSync), o.bp, procsLine(os.Getenv("GOMAXPROCS")))
	if o.sink == "blocks" {
		dir, _ := filepath.Abs(o.dataDir)
		fmt.Fprintf(stdout, "Data: %s\n", dir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	stop() // a second signal ends the process at once (acknowledged writes are in the WAL already)
	log.Info("shutting down: answering the writes under way, then closing the sink")
	err = s.Close()
	st := s.p.Stats()
	if err != nil {
		log.Error("shut down with an error", "err", err, "points", st.Points, "batches", st.Batches)
		return err
	}
	log.Info("stopped", "points", st.Points, "batches", st.Batches, "refused", st.Refused)
	return nil
}

// check refuses settings no server can start with.
func (o *serverOpts) check() error {
	for _, p := range []struct {
		name string
		v    int
		min  int
	}{{"port", o.port, 0}, {"grpc-port", o.grpcPort, -1}} {
		if p.v < p.min || p.v > 65535 {
			return cli.Usagef("--%s %d: want %d to 65535", p.name, p.v, p.min)
		}
	}
	l := o.limits
	if l.MaxBodyBytes <= 0 || l.MaxLineBytes <= 0 || l.MaxLabels <= 0 || l.MaxLabelNameBytes <= 0 || l.MaxLabelValueBytes <= 0 {
		return cli.Usagef("the --max-… limits must be positive")
	}
	switch o.sink {
	case "blocks", "memory", "discard":
		return nil
	}
	return cli.Usagef("--sink %q: want blocks, memory or discard", o.sink)
}
