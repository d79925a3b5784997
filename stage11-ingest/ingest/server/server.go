// Package server is the ingest pipeline's listeners: HTTP handlers for
// every write protocol (http.go), a TCP line-protocol listener (tcp.go)
// and OTLP over gRPC (grpc.go). Each listener has its own back-pressure
// mode and the protocols' limits; all of them feed one ingest.Pipeline.
//
// The handlers are plain http.Handlers so that another server (the
// capstone) can mount them on its own mux:
//
//	h := server.NewHTTP(pipeline, server.Options{Backpressure: ingest.Reject})
//	h.Register(mux) // /write, /api/v2/write, /api/v1/write, /api/v1/otlp/v1/metrics
package server

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// Options configure a listener. Zero values get the defaults noted.
type Options struct {
	// Limits are the protocols' limits (ingest.Limits defaults).
	Limits ingest.Limits
	// Backpressure is what a write does when the pipeline's queue is
	// full: ingest.Block (the default) or ingest.Reject.
	Backpressure ingest.Backpressure
	// RetryAfter is the Retry-After of a 429. Defaults to 1 s.
	RetryAfter time.Duration
	// Now is the clock for points without a timestamp. Defaults to
	// time.Now.
	Now func() time.Time
	// Logger logs listener errors (not bad requests: those are answered).
	// Defaults to slog.Default().
	Logger *slog.Logger
	// Histograms, if set, stores the native histograms of remote write
	// (1.0 and 2.0) and OTLP's exponential histograms, after the
	// pipeline has taken the request's floats; without it they are
	// counted (HistogramsDropped) and dropped.
	Histograms ingest.HistogramSink
	// KnownKeys is how many line-protocol series keys a listener
	// remembers as parsed and checked (influx.KeySet): their lines skip
	// the tag set. Defaults to 262,144 (tens of MB at most); negative:
	// none.
	KnownKeys int
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.WithDefaults()
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.KnownKeys == 0 {
		o.KnownKeys = 1 << 18
	}
	return o
}

// keySet is the listener's set of known line-protocol keys (nil: none).
func (o Options) keySet() *influx.KeySet {
	if o.KnownKeys < 0 {
		return nil
	}
	return influx.NewKeySet(o.KnownKeys)
}

// buffers are a request's reusable memory: the body as read, and as
// decompressed.
type buffers struct{ raw, body []byte }

var bufPool = sync.Pool{New: func() any { return &buffers{} }}

// readAll reads at most limit bytes of r into buf; a longer input is a
// LimitError.
func readAll(r io.Reader, buf []byte, lim *ingest.Limits, sizeHint int64) ([]byte, error) {
	b := bytes.NewBuffer(buf[:0])
	if sizeHint > 0 && sizeHint <= lim.MaxBodyBytes {
		b.Grow(int(sizeHint) + bytes.MinRead)
	}
	n, err := b.ReadFrom(io.LimitReader(r, lim.MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if n > lim.MaxBodyBytes {
		return nil, lim.BodyError(n)
	}
	return b.Bytes(), nil
}

var gzipPool sync.Pool

// gunzip decompresses src into dst, at most lim.MaxBodyBytes.
func gunzip(dst, src []byte, lim *ingest.Limits) ([]byte, error) {
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer gzipPool.Put(zr)
	out, err := readAll(zr, dst, lim, int64(len(src))*4)
	if err != nil && !errors.Is(err, ingest.ErrLimit) {
		err = fmt.Errorf("gzip: %w", err)
	}
	return out, err
}

// requestBody reads a request's body, decompressing gzip, within the
// body limit. The returned slice is b.raw or b.body.
func requestBody(r *http.Request, b *buffers, lim *ingest.Limits) ([]byte, error) {
	raw, err := readAll(r.Body, b.raw, lim, r.ContentLength)
	if raw != nil {
		b.raw = raw
	}
	if err != nil {
		return nil, err
	}
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		body, err := gunzip(b.body, raw, lim)
		if body != nil {
			b.body = body
		}
		return body, err
	}
	return nil, errUnsupportedEncoding
}

var errUnsupportedEncoding = errors.New("unsupported Content-Encoding: want gzip or none")
