package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// ReadQuery is one query of a remote read as a ReadStorage sees it.
type ReadQuery struct {
	MinT, MaxT int64 // ms, inclusive
	Matchers   []Matcher
	// StoredChunks: the reader takes stage03 chunks, so a series may come
	// as its chunks as stored (ReadSeries.Chunks) instead of its samples.
	StoredChunks bool
}

// ReadSeries is one series of an answer: its samples in the query's range
// (Samples and Histograms, each in time order), or, for a query with
// StoredChunks, its stage03 chunks as stored, which may hold samples
// outside the range (the reader clips them).
type ReadSeries struct {
	Series
	Chunks []Chunk
}

// ReadStorage is what ReadHandler answers from.
type ReadStorage interface {
	// ReadSeries calls fn with each series that matches q.Matchers and
	// has a sample in [q.MinT, q.MaxT], in label order. The series and
	// its slices are valid only during fn; an error from fn ends the
	// read and is returned.
	ReadSeries(ctx context.Context, q ReadQuery, fn func(*ReadSeries) error) error
	// HasHistograms reports whether a series matching q holds native
	// histograms in its range: a Prometheus client, which reads only
	// Prometheus's chunk layouts, then gets the sampled answer.
	HasHistograms(ctx context.Context, q ReadQuery) (bool, error)
}

// ReadLimits bound what ReadHandler serves; zero fields take the default,
// which is Prometheus's. A negative SampleLimit or Concurrency is no limit
// (what Prometheus's flags spell 0).
type ReadLimits struct {
	// SampleLimit is the most samples (floats and histograms) of a
	// sampled answer, all queries together (remote_read_sample_limit,
	// default 5e7); over it the answer is a 400 "exceeded sample limit".
	// Streamed answers have no sample limit: they are not held in memory.
	SampleLimit int
	// Concurrency is the most reads served at once
	// (remote_read_concurrent_limit, default 10); the others wait for a
	// turn, or for their request's end.
	Concurrency int
	// FrameBytes is the size a streamed frame is cut at
	// (remote_read_max_bytes_in_frame, default 1 MiB).
	FrameBytes int
	// MaxBodyBytes bounds the request, compressed and decompressed
	// (default 32 MiB).
	MaxBodyBytes int
	// MaxQueries bounds the queries of one request (default 100).
	MaxQueries int
}

func (l ReadLimits) withDefaults() ReadLimits {
	if l.SampleLimit == 0 {
		l.SampleLimit = 5e7
	}
	if l.Concurrency == 0 {
		l.Concurrency = 10
	}
	if l.FrameBytes <= 0 {
		l.FrameBytes = DefaultFrameBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 32 << 20
	}
	if l.MaxQueries <= 0 {
		l.MaxQueries = 100
	}
	return l
}

// ErrSampleLimit: a sampled answer would hold more samples than
// ReadLimits.SampleLimit.
var ErrSampleLimit = errors.New("remote: exceeded sample limit")

// ErrResponseType: the client accepts no answer this server gives.
var ErrResponseType = errors.New("remote: no supported response type")

// Negotiate picks the answer for a request as Prometheus's server does:
// the first type in the client's order of preference that the server
// gives (SAMPLES, STREAMED_XOR_CHUNKS); no types listed means SAMPLES.
func (r *ReadRequest) Negotiate() (ResponseType, error) {
	if len(r.Accepted) == 0 {
		return ResponseSamples, nil
	}
	for _, t := range r.Accepted {
		if t == ResponseSamples || t == ResponseStreamedXORChunks {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: the client accepts %v; supported: SAMPLES (0), STREAMED_XOR_CHUNKS (1)", ErrResponseType, r.Accepted)
}

// ReadHandler serves Prometheus remote read (POST, a snappy ReadRequest)
// from st:
//
//   - the answer type is negotiated from accepted_response_types
//     (Negotiate);
//   - SAMPLES: one snappy ReadResponse, histograms in each series'
//     histograms field, at most SampleLimit samples;
//   - STREAMED_XOR_CHUNKS: frames written as the series are read
//     (ChunkedWriter). A client that names stage03 in
//     X-Remote-Read-Chunk-Encodings gets stage03 chunks (float chunks as
//     stored, histogram chunks of ChunkStage03Histogram and
//     ChunkStage03FloatHistogram); any other gets Prometheus's XOR chunks,
//     unless a query selects native histograms: Prometheus's histogram
//     chunk layout is not written here, so that client gets the sampled
//     answer, which its client reads as well (it goes by Content-Type).
//
// Bad requests are 400s with the reason; a failure after frames went out
// breaks the stream off, which the client sees as a bad frame.
func ReadHandler(st ReadStorage, lim ReadLimits) http.Handler {
	lim = lim.withDefaults()
	h := &readHandler{st: st, lim: lim}
	if lim.Concurrency > 0 {
		h.gate = make(chan struct{}, lim.Concurrency)
	}
	return h
}

type readHandler struct {
	st   ReadStorage
	lim  ReadLimits
	gate chan struct{} // nil: no concurrency limit
}

func (h *readHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.gate != nil {
		select {
		case h.gate <- struct{}{}:
			defer func() { <-h.gate }()
		case <-r.Context().Done():
			http.Error(w, "remote read: "+r.Context().Err().Error(), http.StatusServiceUnavailable)
			return
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, int64(h.lim.MaxBodyBytes)+1))
	if err != nil {
		http.Error(w, "remote read: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(raw) > h.lim.MaxBodyBytes {
		http.Error(w, fmt.Sprintf("remote read: request body over %d bytes", h.lim.MaxBodyBytes), http.StatusRequestEntityTooLarge)
		return
	}
	buf, err := Decompress(nil, raw, h.lim.MaxBodyBytes)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "remote read: "+err.Error(), code)
		return
	}
	req, err := DecodeReadRequest(buf)
	if err != nil {
		http.Error(w, "remote read: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(req.Queries) > h.lim.MaxQueries {
		http.Error(w, fmt.Sprintf("remote read: %d queries, at most %d in one request", len(req.Queries), h.lim.MaxQueries), http.StatusBadRequest)
		return
	}
	typ, err := req.Negotiate()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	stage03 := acceptsEncoding(r.Header, ChunkEncodingStage03)
	if typ == ResponseStreamedXORChunks && !stage03 {
		for _, q := range req.Queries {
			has, err := h.st.HasHistograms(r.Context(), ReadQuery{MinT: q.StartMs, MaxT: q.EndMs, Matchers: q.Matchers})
			if err != nil {
				code := http.StatusInternalServerError
				if errors.Is(err, ErrInvalid) {
					code = http.StatusBadRequest
				}
				http.Error(w, "remote read: "+err.Error(), code)
				return
			}
			if has {
				typ = ResponseSamples
				break
			}
		}
	}
	if typ == ResponseStreamedXORChunks {
		h.streamed(w, r, req, stage03)
		return
	}
	h.sampled(w, r, req)
}

func (h *readHandler) sampled(w http.ResponseWriter, r *http.Request, req ReadRequest) {
	results := make([]QueryResult, len(req.Queries))
	samples := 0
	for i, q := range req.Queries {
		err := h.st.ReadSeries(r.Context(), ReadQuery{MinT: q.StartMs, MaxT: q.EndMs, Matchers: q.Matchers}, func(s *ReadSeries) error {
			samples += len(s.Samples) + len(s.Histograms)
			if h.lim.SampleLimit > 0 && samples > h.lim.SampleLimit {
				return fmt.Errorf("%w (%d)", ErrSampleLimit, h.lim.SampleLimit)
			}
			results[i].Series = append(results[i].Series, Series{Labels: s.Labels,
				Samples: slices.Clone(s.Samples), Histograms: slices.Clone(s.Histograms)})
			return nil
		})
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrSampleLimit) || errors.Is(err, ErrInvalid) {
				code = http.StatusBadRequest
			}
			http.Error(w, "remote read: "+err.Error(), code)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Header().Set("Content-Encoding", "snappy")
	_, _ = w.Write(Compress(nil, AppendReadResponse(nil, results)))
}

func (h *readHandler) streamed(w http.ResponseWriter, r *http.Request, req ReadRequest, stage03 bool) {
	w.Header().Set("Content-Type", ContentTypeStreamed)
	flush := func() {}
	if f, ok := w.(http.Flusher); ok {
		flush = f.Flush
	}
	cw := NewChunkedWriter(w, flush, h.lim.FrameBytes)
	var chunks []Chunk
	for i, q := range req.Queries {
		err := h.st.ReadSeries(r.Context(), ReadQuery{MinT: q.StartMs, MaxT: q.EndMs, Matchers: q.Matchers, StoredChunks: stage03}, func(s *ReadSeries) error {
			cs := ChunkedSeries{Labels: s.Labels, Chunks: s.Chunks}
			if cs.Chunks == nil {
				var err error
				if stage03 {
					chunks, err = Stage03Chunks(chunks[:0], s.Samples, s.Histograms)
				} else if len(s.Histograms) > 0 {
					// HasHistograms said none: they came in since
					err = fmt.Errorf("%w: series %s holds native histograms, which Prometheus's XOR chunks cannot carry", ErrResponseType, s.Labels)
				} else {
					chunks = XORChunks(s.Samples)
				}
				if err != nil {
					return err
				}
				cs.Chunks = chunks
			}
			return cw.Write(int64(i), cs)
		})
		if err != nil {
			// Frames may be out already, and with them the status: a
			// frame that breaks off is what the client then sees as an
			// error (a short read or a bad checksum).
			if cw.Frames() == 0 {
				code := http.StatusInternalServerError
				if errors.Is(err, ErrInvalid) {
					code = http.StatusBadRequest
				}
				w.Header().Del("Content-Type")
				http.Error(w, "remote read: "+err.Error(), code)
			} else {
				_, _ = w.Write([]byte{0xff})
			}
			return
		}
	}
}

// acceptsEncoding reports whether the request's HeaderChunkEncodings
// lists enc: a comma-separated list, spaces around the names allowed (as
// in any HTTP list, "xor, stage03"), in one header line or several.
func acceptsEncoding(h http.Header, enc string) bool {
	for _, v := range h.Values(HeaderChunkEncodings) {
		for name := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(name) == enc {
				return true
			}
		}
	}
	return false
}
