package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Who may do what. By default the server listens on 127.0.0.1 and asks no
// credentials (TLS and basic auth come from --web.config.file, served by
// exporter-toolkit in package server). Within that:
//
//   - The admin API (/api/v1/admin/…) is off unless Options.EnableAdminAPI
//     (--web.enable-admin-api): it answers 503 "admin APIs disabled", as
//     Prometheus does.
//   - Endpoints that change data (admin, /api/v1/write, /write) refuse a
//     cross-origin request from a browser (403): a web page the user visits
//     must not be able to write or delete through the user's browser.
//     Browsers mark such requests with Sec-Fetch-Site or an Origin that is
//     not the server's host (net/http's CrossOriginProtection); Prometheus,
//     curl and the Go client send neither and are let through.
//   - Admin endpoints also refuse the three content types an HTML form can
//     send (application/x-www-form-urlencoded, multipart/form-data,
//     text/plain): their parameters go in the URL, so a form post is never
//     a legitimate caller, and a browser too old to send Origin is stopped
//     there.

// ErrForbidden is the errorType of a request refused for where it came from.
const ErrForbidden ErrorType = "forbidden"

var crossOrigin = func() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		respondError(w, &apiError{typ: ErrForbidden, status: http.StatusForbidden,
			err: errors.New("cross-origin request refused: this endpoint changes data and answers only same-origin and non-browser clients")})
	}))
	return c
}()

// sameOrigin refuses cross-origin browser requests to h.
func sameOrigin(h http.Handler) http.Handler { return crossOrigin.Handler(h) }

// formContentTypes are the content types an HTML form can post without
// JavaScript (and so without a CORS preflight).
var formContentTypes = map[string]bool{
	"application/x-www-form-urlencoded": true,
	"multipart/form-data":               true,
	"text/plain":                        true,
}

// adminOnly guards an admin endpoint: off unless enabled, same origin only,
// no form bodies.
func (a *API) adminOnly(h http.Handler) http.Handler {
	return sameOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.opts.EnableAdminAPI {
			respondError(w, newError(ErrUnavailable, errors.New("admin APIs disabled")))
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, _ := strings.Cut(ct, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if formContentTypes[mt] {
				respondError(w, &apiError{typ: ErrBadData, status: http.StatusUnsupportedMediaType,
					err: fmt.Errorf("content type %q refused on admin endpoints: give the parameters in the URL", mt)})
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
}
