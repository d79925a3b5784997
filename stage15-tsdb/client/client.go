// Package client talks to a stage15 server (or any server with
// Prometheus's HTTP API and remote write 1.0) from Go:
//
//	c, err := client.New("127.0.0.1:9090", client.Options{})
//	err = c.Write(ctx, []remote.Series{{Labels: lset, Samples: samples}})
//	res, err := c.Query(ctx, `sum by (method) (rate(http_requests_total[5m]))`, time.Now())
//	res, err = c.QueryRange(ctx, q, start, end, time.Minute)
//	sets, err := c.Series(ctx, start, end, `up{job="api"}`)
//	names, err := c.Labels(ctx, time.Time{}, time.Time{})
//	values, err := c.LabelValues(ctx, "job", time.Time{}, time.Time{})
//
// Every call takes a context; each attempt has its own timeout
// (Options.Timeout), and an attempt that fails on the network or gets a
// 5xx or a 429 answer is retried with exponential backoff and jitter
// (Options.MaxRetries, MinBackoff, MaxBackoff), waiting at least as long
// as a Retry-After header asks. Other 4xx answers are the caller's
// mistake and are returned at once as an *Error.
//
// Files: client.go (the client, requests, retries), write.go (batched
// remote write and the streaming Writer), query.go (queries and their
// results), meta.go (series, labels, status and admin calls).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure a Client. Zero values get the defaults noted.
type Options struct {
	// HTTPClient sends the requests. Defaults to a client whose transport
	// keeps up to 16 idle connections to the server alive.
	HTTPClient *http.Client
	// Timeout bounds one attempt (not the retries together: the context
	// does that). Defaults to 30 s.
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt is retried. Defaults
	// to 3; negative: never.
	MaxRetries int
	// MinBackoff is the wait before the first retry; each retry doubles it,
	// up to MaxBackoff. The wait actually used is drawn uniformly from
	// [backoff/2, backoff] so that many clients do not retry in step.
	// Default 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// BatchSamples is the most samples one remote-write request carries.
	// Defaults to 2,000 (Prometheus's max_samples_per_send).
	BatchSamples int
	// UserAgent defaults to "stage15-tsdb-client".
	UserAgent string
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        16,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Second, o.MinBackoff)
	}
	if o.BatchSamples <= 0 {
		o.BatchSamples = 2000
	}
	if o.UserAgent == "" {
		o.UserAgent = "stage15-tsdb-client"
	}
	return o
}

// Client is safe for concurrent use.
type Client struct {
	base string // scheme://host[:port][/prefix], no trailing slash
	hc   *http.Client
	opts Options
}

// New returns a client for the server at addr: "host:port" (http is
// assumed) or a URL ("https://tsdb.example/prefix").
func New(addr string, opts Options) (*Client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("client: address %q: %w", addr, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("client: address %q: want host:port or an http(s) URL", addr)
	}
	opts = opts.withDefaults()
	return &Client{base: strings.TrimSuffix(u.String(), "/"), hc: opts.HTTPClient, opts: opts}, nil
}

// Addr is the base URL the client sends to.
func (c *Client) Addr() string { return c.base }

// Error is an answer other than success from the server.
type Error struct {
	StatusCode int    // the HTTP status
	Type       string // the API's errorType (bad_data, execution, …), if it named one
	Msg        string // the server's message
	Retries    int    // how many retries were made before giving up
}

func (e *Error) Error() string {
	s := fmt.Sprintf("server answered %d", e.StatusCode)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Retries > 0 {
		s += fmt.Sprintf(" (after %d retries)", e.Retries)
	}
	return s
}

// Temporary reports whether the failure may pass: a 5xx or a 429.
func (e *Error) Temporary() bool { return retryable(e.StatusCode) }

func retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// request is one call: everything needed to send it again.
type request struct {
	method, path string
	query        url.Values // in the URL
	form         url.Values // a form-encoded POST body
	body         []byte     // a raw body (remote write)
	header       http.Header
}

// do sends r, retrying as Options say, and returns the body of a 2xx
// answer. Any other answer is an *Error (its Msg from the JSON envelope
// when there is one, else the body's text).
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	var last error
	for attempt := 0; ; attempt++ {
		body, status, retryAfter, err := c.once(ctx, r)
		if err == nil && status/100 == 2 {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			last = fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
		} else {
			last = apiError(status, body, attempt)
			if !retryable(status) {
				return nil, last
			}
		}
		if attempt >= c.opts.MaxRetries {
			return nil, last
		}
		wait := max(c.backoff(attempt), retryAfter)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait before retry attempt+1: MinBackoff·2^attempt capped
// at MaxBackoff, drawn from its upper half.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.MaxBackoff
	if attempt < 30 {
		d = min(c.opts.MinBackoff<<attempt, c.opts.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// once makes one attempt.
func (c *Client) once(ctx context.Context, r request) (body []byte, status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	switch {
	case r.form != nil:
		rd = strings.NewReader(r.form.Encode())
	case r.body != nil:
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, 0, 0, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, 0, err
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			retryAfter = min(time.Duration(n)*time.Second, c.opts.MaxBackoff)
		}
	}
	return body, resp.StatusCode, retryAfter, nil
}

// apiError builds the *Error of a non-2xx answer.
func apiError(status int, body []byte, retries int) *Error {
	e := &Error{StatusCode: status, Retries: retries}
	var env struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Status == "error" {
		e.Type, e.Msg = env.ErrorType, env.Error
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	e.Msg = msg
	return e
}

// IsStatus reports whether err is an *Error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == status
}

// getJSON sends r and decodes the "data" of a success envelope into v,
// returning the warnings.
func (c *Client) getJSON(ctx context.Context, r request, v any) ([]string, error) {
	body, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeEnvelope(body, v)
}

func decodeEnvelope(body []byte, v any) ([]string, error) {
	var env struct {
		Status   string          `json:"status"`
		Data     json.RawMessage `json:"data"`
		Warnings []string        `json:"warnings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("client: decoding the answer: %w", err)
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("client: answer status %q", env.Status)
	}
	if v != nil {
		if err := json.Unmarshal(env.Data, v); err != nil {
			return nil, fmt.Errorf("client: decoding the answer's data: %w", err)
		}
	}
	return env.Warnings, nil
}

// formatTime writes t as unix seconds with milliseconds, as the API takes it.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}
