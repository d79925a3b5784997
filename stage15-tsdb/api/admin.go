package api

import (
	"errors"
	"net/http"
	"strconv"
)

// snapshot serves POST /api/v1/admin/tsdb/snapshot (skip_head=true leaves
// the head out): {"name":"20240101T000000Z-0123456789abcdef"}, a directory
// under <data-dir>/snapshots.
func (a *API) snapshot(r *http.Request) (any, *apiError) {
	if a.opts.Snapshot == nil {
		return nil, newError(ErrUnavailable, errors.New("snapshots are not available"))
	}
	skip := false
	if s := r.FormValue("skip_head"); s != "" {
		var err error
		if skip, err = strconv.ParseBool(s); err != nil {
			return nil, badParam("skip_head", err)
		}
	}
	name, err := a.opts.Snapshot(!skip)
	if err != nil {
		return nil, newError(ErrInternal, err)
	}
	return map[string]string{"name": name}, nil
}

// deleteSeries serves POST|PUT /api/v1/admin/tsdb/delete_series: match[]
// (required), start, end (default all time). 204 on success.
func (a *API) deleteSeries(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		respondError(w, newError(ErrBadData, err))
		return
	}
	sets, aerr := matchersParam(r)
	if aerr != nil {
		respondError(w, aerr)
		return
	}
	if len(sets) == 0 {
		respondError(w, newError(ErrBadData, errors.New("no match[] parameter provided")))
		return
	}
	mint, maxt, aerr := rangeParams(r)
	if aerr != nil {
		respondError(w, aerr)
		return
	}
	for _, ms := range sets {
		if err := a.db.Delete(mint, maxt, ms...); err != nil {
			respondError(w, newError(ErrInternal, err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// cleanTombstones serves POST|PUT /api/v1/admin/tsdb/clean_tombstones: the
// compaction plan rewrites every block that has tombstones. 204.
func (a *API) cleanTombstones(w http.ResponseWriter, _ *http.Request) {
	if a.opts.Compact == nil {
		respondError(w, newError(ErrUnavailable, errors.New("compaction is not available")))
		return
	}
	if _, err := a.opts.Compact(); err != nil {
		respondError(w, newError(ErrInternal, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
