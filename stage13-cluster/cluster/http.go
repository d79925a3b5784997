package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// maxBody bounds a request body (compressed and decompressed).
const maxBody = 64 << 20

func (n *Node) register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathWrite, n.handleWrite)
	mux.HandleFunc("POST "+PathReplicaWrite, n.handleReplicaWrite)
	// remote read, served from local storage by stage11's handler
	mux.Handle("POST "+PathRead, remote.ReadHandler(remote.TSDBStorage{DB: n.db}, remote.ReadLimits{}))
	mux.HandleFunc("POST "+PathAggregate, n.handleAggregate)
	mux.HandleFunc(PathQuery, n.handleQuery)
	mux.HandleFunc(PathQueryRange, n.handleQuery)
	mux.HandleFunc("GET "+PathStatus, n.handleStatus)
	mux.HandleFunc("POST "+PathLeave, n.handleLeave)
}

func (n *Node) handleLeave(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusAccepted)
	go func() {
		if _, err := n.Leave(context.Background()); err != nil {
			n.mu.Lock()
			n.leaveErr = err
			n.mu.Unlock()
			_ = n.Close()
		}
	}()
}

// bodyBufs are the buffers of a request body being read and
// decompressed, reused across requests: a healing batch is a megabyte.
var bodyBufs = sync.Pool{New: func() any { return new([2][]byte) }}

// readWrite reads a snappy remote write 1.0 body and calls fn with each
// series; the series and its slices are valid only during fn.
func readWrite(r *http.Request, fn func(*remote.TimeSeries) error) error {
	bufs := bodyBufs.Get().(*[2][]byte)
	defer func() {
		if cap(bufs[0])+cap(bufs[1]) <= 16<<20 { // a rare huge one is not kept
			bodyBufs.Put(bufs)
		}
	}()
	raw, err := readBody(bufs[0][:0], r)
	bufs[0] = raw
	if err != nil {
		return err
	}
	return decodeBody(&bufs[1], raw, fn)
}

// readBody appends r's body (at most maxBody bytes) to raw.
func readBody(raw []byte, r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxBody {
		raw = slices.Grow(raw, int(n)+1)
	}
	raw, err := readAllInto(raw, io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return raw, err
	}
	if len(raw) > maxBody {
		return raw, fmt.Errorf("body over %d bytes", maxBody)
	}
	return raw, nil
}

// decodeBody decompresses raw into *buf (reused) and calls fn with each
// series.
func decodeBody(buf *[]byte, raw []byte, fn func(*remote.TimeSeries) error) error {
	b, err := remote.Decompress((*buf)[:0], raw, maxBody)
	if err != nil {
		return err
	}
	*buf = b
	var dec remote.Decoder
	_, err = dec.Decode(b, fn, nil)
	return err
}

// readAllInto appends everything r has to dst.
func readAllInto(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(512, cap(dst)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// decodeWrite reads a client's snappy remote write 1.0 body into series,
// their labels' hashes, and the body as it came (kept: the distributor may
// send it on as it is, after this request has returned). A series seen
// before takes its label set and hash from labels (nil: none); the
// series' samples are copied into a few shared arrays, not one each.
func decodeWrite(r *http.Request, labels *labelCache) (series []remote.Series, hashes []uint64, raw []byte, err error) {
	raw, err = readBody(nil, r)
	if err != nil {
		return nil, nil, nil, err
	}
	bufs := bodyBufs.Get().(*[2][]byte)
	defer func() {
		if cap(bufs[1]) <= 16<<20 {
			bodyBufs.Put(bufs)
		}
	}()
	var arena []model.Sample
	err = decodeBody(&bufs[1], raw, func(ts *remote.TimeSeries) error {
		lset, h, err := labels.get(ts)
		if err != nil {
			return err
		}
		if len(ts.Samples) > cap(arena)-len(arena) {
			arena = make([]model.Sample, 0, max(4096, len(ts.Samples)))
		}
		k := len(arena)
		arena = append(arena, ts.Samples...)
		s := remote.Series{Labels: lset, Samples: arena[k:len(arena):len(arena)]}
		if len(ts.Samples) == 0 {
			s.Samples = nil
		}
		if len(ts.Histograms) > 0 {
			s.Histograms = slices.Clone(ts.Histograms)
		}
		series = append(series, s)
		hashes = append(hashes, h)
		return nil
	})
	return series, hashes, raw, err
}

// errBadWrite marks a replica write whose body cannot be read.
var errBadWrite = errors.New("cluster: bad write request")

// storeWrite stores a replica write's series in db as it decodes them,
// in one commit (appendLocal without the copy of every sample between):
// a body that does not decode is refused whole (errBadWrite). refs (nil:
// none) maps a series' label fields as they were on the wire to its ref
// in db: a series written again, as every series is at each scrape, is
// appended by ref, its label set not built, checked, hashed and looked up
// again. That was a third of a replica's CPU.
func storeWrite(db *tsdb.DB, refs *ingest.SeriesCache, r *http.Request) (int, error) {
	a := localAppend{app: db.Appender(r.Context())}
	err := readWrite(r, func(ts *remote.TimeSeries) error {
		if refs != nil {
			if ref := refs.Row(remote.V1Format, ts.Key).Get(nil, 0); ref != 0 {
				// A stale ref (a series dropped by a head truncation and
				// written again) falls back to the labels: the new ref
				// replaces it, or every later write would fall back too.
				if now := a.add(ref, model.Labels{}, ts.ModelLabels, ts.Samples, ts.Histograms); now != 0 && now != ref {
					refs.Set(remote.V1Format, ts.Key, nil, now)
				}
				return nil
			}
		}
		lset, err := ts.ModelLabels()
		if err != nil {
			return err
		}
		if ref := a.add(0, lset, nil, ts.Samples, ts.Histograms); ref != 0 && refs != nil {
			refs.Set(remote.V1Format, ts.Key, nil, ref)
		}
		return nil
	})
	if err != nil {
		_ = a.app.Rollback()
		return 0, fmt.Errorf("%w: %w", errBadWrite, err)
	}
	return a.commit()
}

func (n *Node) handleWrite(w http.ResponseWriter, r *http.Request) {
	series, hashes, raw, err := decodeWrite(r, n.labels)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := n.dist.write(r.Context(), series, hashes, raw)
	if err != nil {
		// 503: retryable (Prometheus retries 5xx), as a missing quorum is;
		// but samples replicas refused would be refused again at every
		// retry: 400, which a client drops instead of stalling on it.
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrNodeRefused) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("X-Cluster-Acks", fmt.Sprintf("%d/%d", res.Acks, res.Replicas))
	w.Header().Set("X-Cluster-Targets", strings.Join(res.Targets, ","))
	w.WriteHeader(http.StatusNoContent)
}

func (n *Node) handleReplicaWrite(w http.ResponseWriter, r *http.Request) {
	if _, err := storeWrite(n.db, n.refs, r); err != nil {
		// 400 for what the request holds (a body that does not decode,
		// samples the storage refuses, its reason in the body): the
		// coordinator counts a failed replica and keeps no hint, since
		// a replay would be refused again. 500 only for the node's own
		// failure, which a hint replayed later may get past.
		code := http.StatusInternalServerError
		if errors.Is(err, errBadWrite) || errors.Is(err, errSamplesRefused) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := n.Status()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(math.Round(f * 1000))), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// handleQuery answers /api/v1/query and /api/v1/query_range in
// Prometheus's JSON, the fan-out's warnings in "warnings".
func (n *Node) handleQuery(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, typ string, err error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": typ, "error": err.Error()})
	}
	q := r.FormValue("query")
	now := n.cfg.Now()
	var opts []QueryOption
	if pinned, _ := strconv.ParseBool(r.FormValue("pinned")); pinned {
		opts = append(opts, PinnedSelectors())
	}
	if no, _ := strconv.ParseBool(r.FormValue("no_push_down")); no {
		opts = append(opts, NoPushDown())
	}
	var v promql.Value
	var st *Storage
	var err error
	if r.URL.Path == PathQueryRange {
		start, err1 := parseTime(r.FormValue("start"), now)
		end, err2 := parseTime(r.FormValue("end"), now)
		step, err3 := strconv.ParseFloat(r.FormValue("step"), 64)
		if e := errors.Join(err1, err2, err3); e != nil || step <= 0 {
			fail(http.StatusBadRequest, "bad_data", fmt.Errorf("bad start, end or step: %v", e))
			return
		}
		v, st, err = n.QueryRange(r.Context(), q, start, end, time.Duration(step*float64(time.Second)), opts...)
	} else {
		ts, e := parseTime(r.FormValue("time"), now)
		if e != nil {
			fail(http.StatusBadRequest, "bad_data", e)
			return
		}
		v, st, err = n.Query(r.Context(), q, ts, opts...)
	}
	if err != nil {
		fail(http.StatusUnprocessableEntity, "execution", err)
		return
	}
	// which nodes the fan-out asked, for the CLI's query plan
	qs := st.Stats()
	w.Header().Set("X-Cluster-Asked", strings.Join(qs.Asked, ","))
	w.Header().Set("X-Cluster-Plan", qs.Plan())
	body := map[string]any{"status": "success", "data": encodeValue(v)}
	if ws := st.Warnings(); len(ws) > 0 {
		body["warnings"] = ws
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func jsonPoint(t int64, v float64) []any {
	return []any{float64(t) / 1000, fmtFloat(v)}
}

func encodeValue(v promql.Value) map[string]any {
	switch x := v.(type) {
	case promql.Scalar:
		return map[string]any{"resultType": "scalar", "result": jsonPoint(x.T, x.V)}
	case promql.String:
		return map[string]any{"resultType": "string", "result": []any{float64(x.T) / 1000, x.V}}
	case promql.Vector:
		out := make([]any, 0, len(x))
		for _, s := range x {
			out = append(out, map[string]any{"metric": s.Metric.Map(), "value": jsonPoint(s.T, s.F)})
		}
		return map[string]any{"resultType": "vector", "result": out}
	case promql.Matrix:
		out := make([]any, 0, len(x))
		for _, s := range x {
			vals := make([]any, 0, len(s.Floats))
			for _, p := range s.Floats {
				vals = append(vals, jsonPoint(p.T, p.V))
			}
			out = append(out, map[string]any{"metric": s.Metric.Map(), "values": vals})
		}
		return map[string]any{"resultType": "matrix", "result": out}
	}
	return map[string]any{"resultType": "unknown"}
}
