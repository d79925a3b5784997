package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// The answers of the admin endpoints (and of /api/v1/status/blocks) are
// the client package's types: one definition of each wire format for both
// ends.

// snapshot serves POST /api/v1/admin/tsdb/snapshot (skip_head=true leaves
// the head out): {"name":"20240101T000000Z-0123456789abcdef"}, a directory
// under <data-dir>/snapshots.
func (a *API) snapshot(r *http.Request) (any, []string, *apiError) {
	if a.opts.Snapshot == nil {
		return nil, nil, newError(ErrUnavailable, errors.New("snapshots are not available"))
	}
	skip := false
	if s := r.FormValue("skip_head"); s != "" {
		var err error
		if skip, err = strconv.ParseBool(s); err != nil {
			return nil, nil, badParam("skip_head", err)
		}
	}
	name, err := a.opts.Snapshot(!skip)
	if err != nil {
		return nil, nil, newError(ErrInternal, err)
	}
	return client.SnapshotName{Name: name}, nil, nil
}

// listSnapshots serves GET /api/v1/admin/tsdb/snapshots (this server's
// own): the snapshots under <data-dir>/snapshots, oldest first.
func (a *API) listSnapshots(*http.Request) (any, []string, *apiError) {
	list, err := storage.ListSnapshots(a.db.Dir())
	if err != nil {
		return nil, nil, newError(ErrInternal, err)
	}
	out := make([]client.Snapshot, len(list))
	for i, s := range list {
		out[i] = client.Snapshot{Name: s.Name, Time: s.Time.UTC().Format(time.RFC3339), Blocks: s.Blocks, WithHead: s.WithWAL, Bytes: s.Bytes}
	}
	return out, nil, nil
}

// deleteSnapshot serves DELETE /api/v1/admin/tsdb/snapshots/<name> (this
// server's own): 204, or 404 for a name that is not a snapshot.
func (a *API) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	err := storage.DeleteSnapshot(a.db.Dir(), r.PathValue("name"))
	switch {
	case errors.Is(err, storage.ErrNoSnapshot):
		respondError(w, newError(ErrNotFound, err))
	case err != nil:
		respondError(w, newError(ErrInternal, err))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
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
