package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// Transport carries the node-to-node protocols. Both directions are the
// standard ones, so a node is also an ordinary remote-write and remote-read
// server for Prometheus's own tools:
//
//   - Write: a remote write 1.0 request (protobuf, snappy) to the node's
//     PathReplicaWrite, which stores it locally and nowhere else. Writes,
//     hints and healing all travel this way.
//   - Read: a remote read request to the node's PathRead, answered from
//     the node's local storage: streamed stage03 chunks as stored
//     (STREAMED_XOR_CHUNKS), or samples to a client that asks only for
//     those.
//
// Tests replace it to inject faults.
type Transport interface {
	Write(ctx context.Context, to Meta, series []remote.Series) error
	Read(ctx context.Context, to Meta, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error)
}

// The HTTP paths of a node.
const (
	// PathWrite takes a client's remote write and distributes it (the
	// node is the coordinator of that write).
	PathWrite = "/api/v1/write"
	// PathReplicaWrite takes a remote write from another node: stored
	// locally only.
	PathReplicaWrite = "/cluster/v1/write"
	// PathRead answers remote read from local storage.
	PathRead = "/api/v1/read"
	// PathQuery and PathQueryRange run PromQL over the whole cluster.
	PathQuery      = "/api/v1/query"
	PathQueryRange = "/api/v1/query_range"
	// PathStatus is the node's status as JSON (NodeStatus).
	PathStatus = "/cluster/v1/status"
	// PathLeave asks the node to leave gracefully (Node.Leave); 202, the
	// leave runs after the answer and Node.Done is closed at its end.
	PathLeave = "/cluster/v1/leave"
)

// ErrNodeUnavailable wraps a failed node-to-node call.
var ErrNodeUnavailable = errors.New("cluster: node unavailable")

// maxResponse bounds a remote-read answer a node accepts from another.
const maxResponse = 1 << 30

// HTTPTransport is the Transport over HTTP.
type HTTPTransport struct {
	Client *http.Client
	// Sampled makes reads ask for the sampled answer only, as an older
	// remote-read client does (STREAMED_XOR_CHUNKS is asked for by
	// default).
	Sampled bool
}

// NewHTTPTransport returns a transport whose calls time out after timeout.
// It keeps up to 64 idle connections per node: a distributor sends many
// requests to each node at once, and with net/http's default of 2 every
// request beyond two would dial a new connection and close it after.
func NewHTTPTransport(timeout time.Duration) *HTTPTransport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &HTTPTransport{Client: &http.Client{Timeout: timeout, Transport: t}}
}

// encodedWriter is a Transport that can send a write already encoded:
// the distributor encodes each part once for all its replicas. body is
// called only if the request does leave the process.
type encodedWriter interface {
	writeEncoded(ctx context.Context, to Meta, series []remote.Series, body func() []byte) error
}

// encodeWrite is the remote-write request body of series: protobuf,
// snappy-compressed.
func encodeWrite(series []remote.Series) []byte {
	return remote.Compress(nil, remote.AppendWriteRequest(nil, series))
}

// Write implements Transport.
func (h *HTTPTransport) Write(ctx context.Context, to Meta, series []remote.Series) error {
	return h.post(ctx, to, encodeWrite(series))
}

func (h *HTTPTransport) writeEncoded(ctx context.Context, to Meta, _ []remote.Series, body func() []byte) error {
	return h.post(ctx, to, body())
}

func (h *HTTPTransport) post(ctx context.Context, to Meta, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+to.API+PathReplicaWrite, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cluster: write to %s: %w", to.ID, err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := h.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: write to %s: %v", ErrNodeUnavailable, to.ID, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: write to %s: %s: %s", ErrNodeUnavailable, to.ID, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Read implements Transport: a remote read that asks for
// STREAMED_XOR_CHUNKS first and samples second, as Prometheus does, and
// for stage03 chunks as stored (remote.HeaderChunkEncodings). It reads
// whichever answer the server gives: a server that streams no chunks
// answers with samples.
func (h *HTTPTransport) Read(ctx context.Context, to Meta, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error) {
	rr := remote.ReadRequest{Queries: []remote.Query{{StartMs: mint, EndMs: maxt, Matchers: remote.RemoteMatchers(ms)}}}
	if !h.Sampled {
		rr.Accepted = []remote.ResponseType{remote.ResponseStreamedXORChunks, remote.ResponseSamples}
	}
	body := remote.Compress(nil, remote.AppendReadRequest(nil, &rr))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+to.API+PathRead, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("cluster: read from %s: %w", to.ID, err)
	}
	req.Header.Set("Content-Type", remote.ContentTypeReadRequest)
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Read-Version", "0.1.0")
	req.Header.Set(remote.HeaderChunkEncodings, remote.ChunkEncodingStage03)
	resp, err := h.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: read from %s: %v", ErrNodeUnavailable, to.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == remote.ContentTypeStreamed {
		out, err := readStreamed(resp.Body, mint, maxt)
		if err != nil {
			return nil, fmt.Errorf("%w: read from %s: %v", ErrNodeUnavailable, to.ID, err)
		}
		return out, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%w: read from %s: %v", ErrNodeUnavailable, to.ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: read from %s: %s: %s", ErrNodeUnavailable, to.ID, resp.Status, bytes.TrimSpace(raw))
	}
	dec, err := remote.Decompress(nil, raw, maxResponse)
	if err != nil {
		return nil, fmt.Errorf("cluster: read from %s: %w", to.ID, err)
	}
	res, err := remote.DecodeReadResponse(dec)
	if err != nil {
		return nil, fmt.Errorf("cluster: read from %s: %w", to.ID, err)
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("cluster: read from %s: %d results for 1 query", to.ID, len(res))
	}
	return res[0].Series, nil
}

// readStreamed reads a streamed answer to one query: a series per frame
// (a large one over consecutive frames), its chunks decoded and clipped to
// [mint, maxt].
func readStreamed(r io.Reader, mint, maxt int64) ([]remote.Series, error) {
	fr := remote.NewFrameReader(r, remote.DefaultFrameBytes*64)
	var out []remote.Series
	for {
		msg, err := fr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		series, qi, err := remote.DecodeChunkedReadResponse(msg)
		if err != nil {
			return nil, err
		}
		if qi != 0 {
			return nil, fmt.Errorf("frame for query %d of 1", qi)
		}
		for _, s := range series {
			var got remote.Series
			if err := remote.AppendChunkSamples(&got, s.Chunks, mint, maxt); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Labels, err)
			}
			switch {
			case len(got.Samples)+len(got.Histograms) == 0:
			case len(out) > 0 && out[len(out)-1].Labels.Equal(s.Labels):
				// a series split over frames: its chunks go on
				last := &out[len(out)-1]
				last.Samples = append(last.Samples, got.Samples...)
				last.Histograms = append(last.Histograms, got.Histograms...)
			default:
				got.Labels = s.Labels
				out = append(out, got)
			}
		}
	}
}

// localFirst is a node's transport: calls addressed to the node itself
// go straight to its storage instead of through its own HTTP server.
type localFirst struct {
	self string
	db   interface {
		write([]remote.Series) error
		read(mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error)
	}
	next Transport
}

func (l localFirst) Write(ctx context.Context, to Meta, series []remote.Series) error {
	if to.ID == l.self {
		return l.db.write(series)
	}
	return l.next.Write(ctx, to, series)
}

func (l localFirst) writeEncoded(ctx context.Context, to Meta, series []remote.Series, body func() []byte) error {
	if to.ID == l.self {
		return l.db.write(series)
	}
	if ew, ok := l.next.(encodedWriter); ok {
		return ew.writeEncoded(ctx, to, series, body)
	}
	return l.next.Write(ctx, to, series)
}

func (l localFirst) Read(ctx context.Context, to Meta, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, error) {
	if to.ID == l.self {
		return l.db.read(mint, maxt, ms)
	}
	return l.next.Read(ctx, to, mint, maxt, ms)
}
