package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/snappy"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage11-ingest/influx"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/otlp"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/text"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// HTTP serves the write endpoints:
//
//	POST /write                     InfluxDB v1 line protocol (?db=&precision=n|u|ms|s|m|h); a body
//	                                in the guide's text format (no db parameter, `name{labels} value`)
//	                                is taken as such
//	POST /api/v2/write              InfluxDB v2 line protocol (?bucket=&org=&precision=ns|us|ms|s; org not checked)
//	POST /api/v1/write              Prometheus remote write 1.0 and 2.0 (snappy protobuf), or 1.0 as JSON
//	POST /api/v1/otlp/v1/metrics    OTLP metrics, protobuf or JSON
//
// Every write is answered once its points are in the sink. A full queue is
// answered 429 with Retry-After (in Block mode, after waiting for room).
type HTTP struct {
	p *ingest.Pipeline
	o Options

	influxDec, remoteDec, textDec sync.Pool
	// OTLP decoders keep caches (translated names) that a sync.Pool would
	// drop at every other GC: a free list instead, as long as the
	// pipeline's default count of receivers (a decoder works within a
	// write, which holds a receiver).
	otlpDec  chan *otlp.Decoder
	otlpSets *otlp.SetCache // shared by them: each series' attributes read once

	// Counters of what was received but not stored.
	HistogramsDropped, ExemplarsDropped, StringFieldsSkipped atomic.Int64
}

// NewHTTP returns the handlers over p.
func NewHTTP(p *ingest.Pipeline, o Options) *HTTP {
	o = o.withDefaults()
	h := &HTTP{p: p, o: o}
	keys := o.keySet()
	h.influxDec.New = func() any { return &influx.Decoder{Limits: o.Limits, Keys: keys} }
	h.remoteDec.New = func() any { return &remote.Decoder{} }
	h.textDec.New = func() any { return &text.Decoder{Limits: o.Limits} }
	h.otlpDec = make(chan *otlp.Decoder, max(16, 4*runtime.GOMAXPROCS(0)))
	h.otlpSets = otlp.NewSetCache(o.Limits)
	return h
}

// Register mounts the handlers on mux.
func (h *HTTP) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /write", h.InfluxV1)
	mux.HandleFunc("POST /api/v2/write", h.InfluxV2)
	mux.HandleFunc("POST /api/v1/write", h.RemoteWrite)
	mux.HandleFunc("POST /api/v1/otlp/v1/metrics", h.OTLP)
}

// begin starts a write; on failure it has answered (429 + Retry-After,
// or 503) with body(msg) and returns nil.
func (h *HTTP) begin(w http.ResponseWriter, r *http.Request, answer func(status int, msg string)) *ingest.Write {
	wr, err := h.p.Begin(r.Context(), h.o.Backpressure)
	if err == nil {
		return wr
	}
	switch {
	case errors.Is(err, ingest.ErrBackpressure):
		w.Header().Set("Retry-After", strconv.Itoa(int((h.o.RetryAfter+999_999_999)/1e9)))
		answer(http.StatusTooManyRequests, err.Error())
	default:
		answer(http.StatusServiceUnavailable, err.Error())
	}
	return nil
}

// bodyStatus is the status of a body that could not be read.
func bodyStatus(err error) int {
	switch {
	case errors.Is(err, ingest.ErrLimit):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errUnsupportedEncoding):
		return http.StatusUnsupportedMediaType
	}
	return http.StatusBadRequest
}

// commit waits for the write and maps a sink or context failure to a
// status (0: stored).
func commit(ctx context.Context, wr *ingest.Write) (ingest.Result, int, error) {
	res, err := wr.Commit(ctx)
	switch {
	case err == nil:
		return res, 0, nil
	case errors.Is(err, ingest.ErrSink):
		return res, http.StatusInternalServerError, err
	}
	return res, http.StatusServiceUnavailable, err
}

// InfluxV1 serves POST /write.
func (h *HTTP) InfluxV1(w http.ResponseWriter, r *http.Request) { h.influx(w, r, false) }

// InfluxV2 serves POST /api/v2/write, with InfluxDB 2's parameters and
// answers (v2Params).
func (h *HTTP) InfluxV2(w http.ResponseWriter, r *http.Request) { h.influx(w, r, true) }

// v2Codes are InfluxDB 2's error codes, the "code" of its error bodies
// (and of its X-Platform-Error-Code header), by HTTP status. InfluxDB 2
// has no 415 (it reads a body of unknown Content-Encoding as plain): that
// code is named here.
var v2Codes = map[int]string{
	http.StatusBadRequest:            "invalid",
	http.StatusNotFound:              "not found",
	http.StatusRequestEntityTooLarge: "request too large",
	http.StatusUnsupportedMediaType:  "unsupported media type",
	http.StatusTooManyRequests:       "too many requests",
	http.StatusInternalServerError:   "internal error",
	http.StatusServiceUnavailable:    "unavailable",
}

func (h *HTTP) influx(w http.ResponseWriter, r *http.Request, v2 bool) {
	// InfluxDB's error bodies: v1 {"error": …}, v2 {"code": …, "message": …}.
	answer := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if v2 {
			w.Header().Set("X-Platform-Error-Code", v2Codes[status])
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"code": v2Codes[status], "message": msg})
			return
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	var prec influx.Precision
	status, err := http.StatusBadRequest, error(nil)
	if v2 {
		prec, status, err = v2Params(r.URL.Query())
	} else {
		prec, err = influx.ParsePrecision(r.URL.Query().Get("precision"))
	}
	if err != nil {
		answer(status, err.Error())
		return
	}
	b := bufPool.Get().(*buffers)
	defer bufPool.Put(b)
	body, err := requestBody(r, b, &h.o.Limits)
	if err != nil {
		answer(bodyStatus(err), err.Error())
		return
	}
	if !v2 && r.URL.Query().Get("db") == "" && looksLikeText(body) {
		h.text(w, r, body)
		return
	}
	wr := h.begin(w, r, answer)
	if wr == nil {
		return
	}
	d := h.influxDec.Get().(*influx.Decoder)
	st := d.Decode(wr, body, prec, h.o.Now().UnixMilli())
	h.influxDec.Put(d)
	h.StringFieldsSkipped.Add(int64(st.Strings))
	res, status, err := commit(r.Context(), wr)
	if err != nil {
		answer(status, err.Error())
		return
	}
	if st.Bad > 0 || res.Refused > 0 {
		answer(http.StatusBadRequest, partialWrite(st, res))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// v2Params checks a v2 write's parameters as InfluxDB 2 does, in its
// order: the precision (ns, us, ms or s; none is ns; v1's n, u, m and h are
// refused, 400), the bucket (none: 404, the answer InfluxDB 2 gives for a
// bucket it does not know). Any bucket is taken: the server has one storage,
// which every bucket writes into. The organization is not checked: InfluxDB
// 2 refuses a write with neither org nor orgID (400), but the server has no
// organizations, and InfluxDB 1.8's v2 endpoint, which clients aimed at it
// expect, ignores the parameter.
func v2Params(q url.Values) (influx.Precision, int, error) {
	prec, err := influx.ParsePrecisionV2(q.Get("precision"))
	if err != nil {
		return 0, http.StatusBadRequest, err
	}
	if q.Get("bucket") == "" {
		return 0, http.StatusNotFound, errors.New("bucket not found: /api/v2/write needs ?bucket=")
	}
	return prec, 0, nil
}

// partialWrite is InfluxDB's message for a write some of whose points
// were not stored.
func partialWrite(st influx.Stats, res ingest.Result) string {
	var parts []string
	if st.Bad > 0 {
		// Every bad line kept (influx.MaxErrors), as InfluxDB lists them:
		// a Telegraf log shows them all.
		errs := make([]string, len(st.Errors))
		for i, e := range st.Errors {
			errs[i] = e.Error()
		}
		more := ""
		if st.Bad > len(errs) {
			more = fmt.Sprintf("; %d more", st.Bad-len(errs))
		}
		parts = append(parts, fmt.Sprintf("unable to parse %d lines: %s%s", st.Bad, strings.Join(errs, "; "), more))
	}
	if res.Refused > 0 {
		parts = append(parts, fmt.Sprintf("%d values refused by the storage: %v", res.Refused, res.First))
	}
	return fmt.Sprintf("partial write: %s dropped=%d", strings.Join(parts, "; "), st.Bad+res.Refused)
}

// looksLikeText tells the guide's text format from line protocol by the
// first line with content: `name{…} value …` or `name value …`, where the
// second field is a number; line protocol's second field is field=value.
func looksLikeText(body []byte) bool {
	for len(body) > 0 {
		var line []byte
		if i := strings.IndexByte(string(body[:min(len(body), 64<<10)]), '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.ContainsRune(s[:strings.IndexAny(s+" ", " ,")], '{') {
			return true
		}
		f := strings.Fields(s)
		if len(f) < 2 {
			return false
		}
		_, err := strconv.ParseFloat(f[1], 64)
		return err == nil
	}
	return false
}

// textResponse is the answer to a write in the guide's text format.
type textResponse struct {
	Status         string   `json:"status"`
	SamplesWritten int      `json:"samples_written"`
	Error          string   `json:"error,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

func (h *HTTP) text(w http.ResponseWriter, r *http.Request, body []byte) {
	answer := func(status int, msg string) { writeJSON(w, status, textResponse{Status: "error", Error: msg}) }
	wr := h.begin(w, r, answer)
	if wr == nil {
		return
	}
	d := h.textDec.Get().(*text.Decoder)
	st := d.Decode(wr, body, h.o.Now().UnixMilli())
	h.textDec.Put(d)
	res, status, err := commit(r.Context(), wr)
	if err != nil {
		answer(status, err.Error())
		return
	}
	if st.Bad > 0 || res.Refused > 0 {
		resp := textResponse{Status: "error", SamplesWritten: res.Points - res.Refused}
		for _, e := range st.Errors {
			resp.Errors = append(resp.Errors, e.Error())
		}
		if res.Refused > 0 {
			resp.Errors = append(resp.Errors, fmt.Sprintf("%d samples refused by the storage: %v", res.Refused, res.First))
		}
		resp.Error = resp.Errors[0]
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	writeJSON(w, http.StatusOK, textResponse{Status: "success", SamplesWritten: res.Points})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// The response headers of remote write 2.0.
const (
	HeaderSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	HeaderHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	HeaderExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
)

// RemoteWrite serves POST /api/v1/write: remote write 1.0
// (proto=prometheus.WriteRequest, the default) or 2.0
// (proto=io.prometheus.write.v2.Request), snappy-compressed; 1.0 also as
// JSON. 204 once stored, with the 2.0 headers saying how many samples
// (histograms and exemplars: 0, they are not stored yet) were written; 400
// for an undecodable request or one over a label limit (nothing stored)
// and for samples the storage refused (the others stored); 413 over the
// body limit; 415 for another message, content type or encoding.
func (h *HTTP) RemoteWrite(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, msg string) { http.Error(w, msg, status) }
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	v2 := false
	switch {
	case ct == "application/json":
	case ct == "application/x-protobuf" || ct == "":
		switch params["proto"] {
		case "", "prometheus.WriteRequest":
		case "io.prometheus.write.v2.Request":
			v2 = true
		default:
			answer(http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported remote write message %q: accepted are prometheus.WriteRequest (1.0) and io.prometheus.write.v2.Request (2.0)", params["proto"]))
			return
		}
		if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "snappy" {
			answer(http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q: want snappy", enc))
			return
		}
	default:
		answer(http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: want application/x-protobuf (snappy) or application/json", ct))
		return
	}
	b := bufPool.Get().(*buffers)
	defer bufPool.Put(b)
	raw, err := readAll(r.Body, b.raw, &h.o.Limits, r.ContentLength)
	if raw != nil {
		b.raw = raw
	}
	if err != nil {
		answer(bodyStatus(err), err.Error())
		return
	}
	body := raw
	if ct != "application/json" {
		if body, err = remote.Decompress(b.body, raw, int(h.o.Limits.MaxBodyBytes)); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, remote.ErrTooLarge) {
				// The size snappy's header announces (Decompress checked it).
				n, _ := snappy.DecodedLen(raw)
				status, err = http.StatusRequestEntityTooLarge, h.o.Limits.BodyError(int64(n))
			}
			answer(status, err.Error())
			return
		}
		b.body = body
	}
	wr := h.begin(w, r, answer)
	if wr == nil {
		return
	}
	var hists []ingest.Histogram
	add := func(format ingest.Format) func(ts *remote.TimeSeries) error {
		return func(ts *remote.TimeSeries) error {
			if err := ts.Check(&h.o.Limits); err != nil {
				return err
			}
			wr.Series(format, ts.Key)
			for _, s := range ts.Samples {
				wr.Add(nil, s.T, s.V)
			}
			if len(ts.Histograms) > 0 && h.o.Histograms != nil {
				lset, err := ts.ModelLabels()
				if err != nil {
					return err
				}
				for _, x := range ts.Histograms {
					hists = append(hists, ingest.Histogram{Labels: lset, T: x.T, H: x.H, FH: x.FH})
				}
			}
			return nil
		}
	}
	d := h.remoteDec.Get().(*remote.Decoder)
	var st remote.Stats
	switch {
	case ct == "application/json":
		// DecodeJSON's keys are its own; the pipeline reads a Pairs key.
		addPairs := add(ingest.Pairs)
		err = remote.DecodeJSON(strings.NewReader(string(body)), func(ts *remote.TimeSeries) error {
			ts.Key = ts.Key[:0]
			for _, l := range ts.Labels {
				ts.Key = ingest.AppendPair(ts.Key, l.Name, l.Value)
			}
			return addPairs(ts)
		})
	case v2:
		st, err = d.DecodeV2(body, add(ingest.Pairs), nil)
	default:
		st, err = d.Decode(body, add(remote.V1Format), nil)
	}
	h.remoteDec.Put(d)
	if err != nil {
		wr.Abort()
		answer(http.StatusBadRequest, err.Error())
		return
	}
	if h.o.Histograms == nil {
		h.HistogramsDropped.Add(int64(st.Histograms))
	}
	h.ExemplarsDropped.Add(int64(st.Exemplars))
	res, status, err := commit(r.Context(), wr)
	if err != nil {
		answer(status, err.Error())
		return
	}
	hRefused, hFirst, err := h.writeHistograms(r.Context(), hists)
	if err != nil {
		answer(http.StatusInternalServerError, err.Error())
		return
	}
	if v2 {
		w.Header().Set(HeaderSamplesWritten, strconv.Itoa(res.Points-res.Refused))
		w.Header().Set(HeaderHistogramsWritten, strconv.Itoa(len(hists)-hRefused))
		w.Header().Set(HeaderExemplarsWritten, "0")
	}
	if res.Refused > 0 || hRefused > 0 {
		first := res.First
		if first == nil {
			first = hFirst
		}
		answer(http.StatusBadRequest, fmt.Sprintf("%d of %d samples refused by the storage; first: %v", res.Refused+hRefused, res.Points+len(hists), first))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// OTLP serves POST /api/v1/otlp/v1/metrics: an ExportMetricsServiceRequest
// in protobuf or JSON (gzip allowed), answered 200 with an
// ExportMetricsServiceResponse in the same encoding whose partial_success
// counts and explains refused data points; errors are a google.rpc.Status.
func (h *HTTP) OTLP(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != otlp.ContentTypeProtobuf && ct != otlp.ContentTypeJSON {
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: want application/x-protobuf or application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	marshal := func(m proto.Message) []byte {
		var b []byte
		if ct == otlp.ContentTypeJSON {
			b, _ = protojson.Marshal(m)
		} else {
			b, _ = proto.Marshal(m)
		}
		return b
	}
	reply := func(status int, m proto.Message) {
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write(marshal(m))
	}
	answer := func(status int, msg string) {
		code := map[int]codes.Code{400: codes.InvalidArgument, 413: codes.InvalidArgument, 415: codes.InvalidArgument, 429: codes.ResourceExhausted, 500: codes.Internal, 503: codes.Unavailable}[status]
		reply(status, &spb.Status{Code: int32(code), Message: msg})
	}
	b := bufPool.Get().(*buffers)
	defer bufPool.Put(b)
	body, err := requestBody(r, b, &h.o.Limits)
	if err != nil {
		answer(bodyStatus(err), err.Error())
		return
	}
	// Protobuf goes through the wire decoder, straight from the body into
	// the write; JSON through the generated types.
	decode := func(d *otlp.Decoder, wr otlp.Writer) (otlp.Stats, error) { return d.DecodeProtobuf(wr, body) }
	if ct == otlp.ContentTypeJSON {
		req, err := otlp.Unmarshal(body, ct)
		if err != nil {
			answer(http.StatusBadRequest, err.Error())
			return
		}
		decode = func(d *otlp.Decoder, wr otlp.Writer) (otlp.Stats, error) { return d.Decode(wr, req), nil }
	}
	resp, status, err := h.export(r.Context(), decode)
	if err != nil {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(int((h.o.RetryAfter+999_999_999)/1e9)))
		}
		answer(status, err.Error())
		return
	}
	reply(http.StatusOK, resp)
}

// export writes an OTLP request (HTTP and gRPC) that decode adds to a
// write; status is an HTTP status for the error (400: decode's error, the
// request refused whole).
func (h *HTTP) export(ctx context.Context, decode func(*otlp.Decoder, otlp.Writer) (otlp.Stats, error)) (*colmetrics.ExportMetricsServiceResponse, int, error) {
	wr, err := h.p.Begin(ctx, h.o.Backpressure)
	if err != nil {
		if errors.Is(err, ingest.ErrBackpressure) {
			return nil, http.StatusTooManyRequests, err
		}
		return nil, http.StatusServiceUnavailable, err
	}
	var d *otlp.Decoder
	select {
	case d = <-h.otlpDec:
	default:
		d = otlp.NewDecoder(h.o.Limits)
		d.Sets = h.otlpSets
	}
	var hists []ingest.Histogram
	if h.o.Histograms != nil {
		d.Histograms = func(lset model.Labels, t int64, x *histogram.Histogram) {
			hists = append(hists, ingest.Histogram{Labels: lset, T: t, H: x})
		}
	}
	st, err := decode(d, wr)
	d.Histograms = nil
	select {
	case h.otlpDec <- d:
	default:
	}
	if err != nil {
		wr.Abort() // the points decoded before the damage
		return nil, http.StatusBadRequest, err
	}
	h.HistogramsDropped.Add(int64(st.Skipped))
	res, status, err := commit(ctx, wr)
	if err != nil {
		return nil, status, err
	}
	hRefused, hFirst, err := h.writeHistograms(ctx, hists)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	if hRefused > 0 && res.First == nil {
		res.First = hFirst
	}
	res.Refused += hRefused
	resp := &colmetrics.ExportMetricsServiceResponse{}
	if st.Rejected > 0 || res.Refused > 0 {
		msg := st.Message()
		if res.Refused > 0 {
			msg = strings.TrimPrefix(msg+fmt.Sprintf("; %d samples refused by the storage: %v", res.Refused, res.First), "; ")
		}
		resp.PartialSuccess = &colmetrics.ExportMetricsPartialSuccess{RejectedDataPoints: int64(st.Rejected + res.Refused), ErrorMessage: msg}
	}
	return resp, 0, nil
}

// writeHistograms hands a request's native histograms to the histogram
// sink, once the pipeline has acknowledged its floats.
func (h *HTTP) writeHistograms(ctx context.Context, hs []ingest.Histogram) (refused int, first error, err error) {
	if len(hs) == 0 || h.o.Histograms == nil {
		return 0, nil, nil
	}
	return h.o.Histograms.WriteHistograms(ctx, hs)
}
