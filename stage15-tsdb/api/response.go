package api

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ErrorType is the "errorType" of a failed API response, as Prometheus
// names them; each has its HTTP status.
type ErrorType string

// The error types of Prometheus's HTTP API.
const (
	ErrBadData     ErrorType = "bad_data"    // 400: a parameter or body is wrong
	ErrExecution   ErrorType = "execution"   // 422: the query failed (e.g. too many samples)
	ErrCanceled    ErrorType = "canceled"    // 499: the client went away
	ErrTimeout     ErrorType = "timeout"     // 503: the query ran out of time
	ErrInternal    ErrorType = "internal"    // 500: a bug or a storage failure
	ErrUnavailable ErrorType = "unavailable" // 503: not ready (WAL replay) or shutting down
	ErrNotFound    ErrorType = "not_found"   // 404: no such endpoint
	ErrTooLarge    ErrorType = "bad_data"    // 413 (body over the limit) uses bad_data
)

// statusClientClosed is nginx's 499, which Prometheus answers for a query
// whose client went away.
const statusClientClosed = 499

func (t ErrorType) status() int {
	switch t {
	case ErrBadData:
		return http.StatusBadRequest
	case ErrExecution:
		return http.StatusUnprocessableEntity
	case ErrCanceled:
		return statusClientClosed
	case ErrTimeout, ErrUnavailable:
		return http.StatusServiceUnavailable
	case ErrNotFound:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// apiError is an error with its type; handlers return it and respond
// writes it.
type apiError struct {
	typ    ErrorType
	status int // 0: typ's status
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func newError(t ErrorType, err error) *apiError { return &apiError{typ: t, err: err} }

// response is the envelope of every /api/v1 answer.
type response struct {
	Status    string    `json:"status"`
	Data      any       `json:"data,omitempty"`
	ErrorType ErrorType `json:"errorType,omitempty"`
	Error     string    `json:"error,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
}

// respond writes {"status":"success","data":…}.
func respond(w http.ResponseWriter, data any, warnings []string) {
	writeJSON(w, http.StatusOK, response{Status: "success", Data: data, Warnings: warnings})
}

// respondError writes {"status":"error","errorType":…,"error":…}.
func respondError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = newError(ErrInternal, err)
	}
	status := ae.status
	if status == 0 {
		status = ae.typ.status()
	}
	writeJSON(w, status, response{Status: "error", ErrorType: ae.typ, Error: ae.err.Error()})
}

// Respond writes a success envelope; the server uses it for answers
// outside the API (the WAL replay status while replaying).
func Respond(w http.ResponseWriter, data any) { respond(w, data, nil) }

// RespondError writes an error envelope; the server uses it for answers
// outside the API (not ready, not found).
func RespondError(w http.ResponseWriter, t ErrorType, msg string) {
	respondError(w, newError(t, errors.New(msg)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"status":"error","errorType":"internal","error":"encoding the response failed"}`)
	}
	writeRaw(w, status, append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
