package api

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/text"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// writeBuffers are reused across remote-write requests: the compressed
// body, the decompressed message, the decoder's series.
type writeBuffers struct {
	body, raw []byte
	dec       remote.Decoder
}

var writePool = sync.Pool{New: func() any { return new(writeBuffers) }}

// readBody reads a request body of at most limit bytes into buf; a larger
// body is an apiError with status 413.
func readBody(w http.ResponseWriter, r *http.Request, buf []byte, limit int64) ([]byte, *apiError) {
	body := http.MaxBytesReader(w, r.Body, limit)
	b := bytes.NewBuffer(buf[:0])
	if r.ContentLength > 0 && r.ContentLength <= limit {
		b.Grow(int(r.ContentLength))
	}
	if _, err := b.ReadFrom(body); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, &apiError{typ: ErrBadData, status: http.StatusRequestEntityTooLarge, err: fmt.Errorf("request body larger than %d bytes", limit)}
		}
		return nil, newError(ErrBadData, fmt.Errorf("reading the body: %w", err))
	}
	return b.Bytes(), nil
}

// remoteWrite serves POST /api/v1/write: Prometheus remote write 1.0
// (snappy-compressed protobuf) or, with Content-Type application/json, the
// same request as JSON. 204 when every sample was stored; 400 (text, as
// Prometheus answers) for an undecodable body, nothing written, or for
// refused samples, the others kept; 413 over the size limit; 415 for other
// content types.
func (a *API) remoteWrite(w http.ResponseWriter, r *http.Request) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		a.writeJSON(w, r)
		return
	case ct == "application/x-protobuf" || ct == "":
		if p := params["proto"]; p != "" && p != "prometheus.WriteRequest" {
			http.Error(w, fmt.Sprintf("unsupported remote write message %q: only remote write 1.0 (prometheus.WriteRequest) is accepted", p), http.StatusUnsupportedMediaType)
			return
		}
	default:
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: want application/x-protobuf (snappy) or application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "snappy" {
		http.Error(w, fmt.Sprintf("unsupported Content-Encoding %q: want snappy", enc), http.StatusUnsupportedMediaType)
		return
	}
	wb := writePool.Get().(*writeBuffers)
	defer writePool.Put(wb)
	body, aerr := readBody(w, r, wb.body, a.opts.MaxBodyBytes)
	if aerr != nil {
		a.writeError(w, aerr)
		return
	}
	wb.body = body
	raw, err := remote.Decompress(wb.raw, body, int(a.opts.MaxBodyBytes))
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, remote.ErrTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		a.writeError(w, &apiError{typ: ErrBadData, status: status, err: err})
		return
	}
	wb.raw = raw
	batch := storage.NewBatch(r.Context(), a.db, a.refs)
	_, err = wb.dec.Decode(raw, func(ts *remote.TimeSeries) error {
		if err := batch.Add(ts.Key, ts.ModelLabels, ts.Samples); err != nil {
			return err
		}
		return batch.AddHistograms(ts.Key, ts.ModelLabels, ts.Histograms)
	}, a.meta.add)
	a.finishWrite(w, batch, err)
}

// writeJSON is remoteWrite for JSON bodies.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(w, r, nil, a.opts.MaxBodyBytes)
	if aerr != nil {
		a.writeError(w, aerr)
		return
	}
	batch := storage.NewBatch(r.Context(), a.db, a.refs)
	err := remote.DecodeJSON(bytes.NewReader(body), func(ts *remote.TimeSeries) error {
		return batch.Add(ts.Key, ts.ModelLabels, ts.Samples)
	})
	a.finishWrite(w, batch, err)
}

// finishWrite commits (or, after a decoding error, rolls back) and answers.
func (a *API) finishWrite(w http.ResponseWriter, batch *storage.Batch, err error) {
	if err != nil {
		_ = batch.Rollback()
		a.writeError(w, newError(ErrBadData, err))
		return
	}
	if err := batch.Commit(); err != nil {
		a.writeError(w, newError(ErrInternal, fmt.Errorf("commit: %w", err)))
		return
	}
	res := batch.Res
	a.countWrite(&res)
	if res.Rejected() > 0 {
		http.Error(w, res.Summary(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) countWrite(res *storage.WriteResult) {
	m := a.opts.Metrics
	if m == nil {
		return
	}
	m.SamplesIngested.Add(float64(res.Accepted))
	m.CommitDuration.Observe(res.Commit.Seconds())
	for reason, n := range map[string]int{"out_of_order": res.OutOfOrder, "duplicate": res.Duplicate, "out_of_bounds": res.OutOfBounds,
		"too_old": res.TooOld, "too_new": res.TooNew, "invalid": res.Invalid} {
		if n > 0 {
			m.SamplesRejected.WithLabelValues(reason).Add(float64(n))
		}
	}
}

// writeError answers a write endpoint's error as plain text, as
// Prometheus's remote-write receiver does.
func (a *API) writeError(w http.ResponseWriter, e *apiError) {
	status := e.status
	if status == 0 {
		status = e.typ.status()
	}
	http.Error(w, e.err.Error(), status)
}

// textWriteResponse is the guide's answer to POST /write.
type textWriteResponse struct {
	Status         string   `json:"status"`
	SamplesWritten int      `json:"samples_written"`
	ErrorType      string   `json:"errorType,omitempty"`
	Error          string   `json:"error,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

// maxLineErrors caps the per-line errors listed in one answer.
const maxLineErrors = 10

// textWrite serves the guide's POST /write: one sample per line,
// `metric{labels} value [unix seconds]` (no timestamp: now). The good
// lines are written even when some are bad; any bad line makes the answer a
// 400 that names the first bad lines.
func (a *API) textWrite(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(w, r, nil, a.opts.MaxBodyBytes)
	if aerr != nil {
		writeJSON(w, aerr.status, textWriteResponse{Status: "error", ErrorType: string(ErrBadData), Error: aerr.err.Error()})
		return
	}
	now := a.now().UnixMilli()
	batch := storage.NewBatch(r.Context(), a.db, nil)
	var lineErrs []string
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var s text.TextSample
		var err error
		if utf8.ValidString(line) {
			s, err = text.ParseLine(line)
		} else {
			err = errors.New("not valid UTF-8")
		}
		if err == nil {
			if !s.HasTime {
				s.T = now
			}
			before := batch.Res
			err = batch.Add(nil, func() (model.Labels, error) { return s.Labels, nil }, []model.Sample{{T: s.T, V: s.V}})
			if err == nil && batch.Res.Accepted == before.Accepted {
				err = refusal(before, batch)
			}
		}
		if err != nil {
			bad++
			if len(lineErrs) < maxLineErrors {
				lineErrs = append(lineErrs, fmt.Sprintf("line %d: %v", n, strings.TrimPrefix(err.Error(), text.ErrSyntax.Error()+": ")))
			}
		}
	}
	refused := batch.Res.Rejected()
	if err := batch.Commit(); err != nil {
		writeJSON(w, http.StatusInternalServerError, textWriteResponse{Status: "error", ErrorType: string(ErrInternal), Error: err.Error()})
		return
	}
	if n := batch.Res.Rejected() - refused; n > 0 {
		// Refused at commit: another writer changed their series meanwhile.
		bad += n
		if len(lineErrs) < maxLineErrors {
			lineErrs = append(lineErrs, batch.LastRefusal().Error())
		}
	}
	a.countWrite(&batch.Res)
	if bad > 0 {
		msg := lineErrs[0]
		if bad > 1 {
			msg = fmt.Sprintf("%s (and %d more bad lines)", msg, bad-1)
		}
		writeJSON(w, http.StatusBadRequest, textWriteResponse{Status: "error", SamplesWritten: batch.Res.Accepted, ErrorType: string(ErrBadData), Error: msg, Errors: lineErrs})
		return
	}
	writeJSON(w, http.StatusOK, textWriteResponse{Status: "success", SamplesWritten: batch.Res.Accepted})
}

// refusal names why a one-sample Add was refused, given the result before
// it.
func refusal(before storage.WriteResult, b *storage.Batch) error {
	after := b.Res
	switch {
	case after.OutOfOrder > before.OutOfOrder:
		return errors.New("out of order sample")
	case after.Duplicate > before.Duplicate:
		return errors.New("duplicate sample for timestamp")
	case after.OutOfBounds > before.OutOfBounds:
		return errors.New("sample out of bounds (older than the head)")
	case after.TooOld > before.TooOld, after.TooNew > before.TooNew:
		return errors.New(strings.TrimPrefix(b.LastRefusal().Error(), "tsdb: "))
	}
	return errors.New("invalid series")
}
