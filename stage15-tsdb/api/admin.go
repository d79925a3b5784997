package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"
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

// compactedBlock describes one block written by POST /api/v1/admin/tsdb/compact.
type compactedBlock struct {
	ULID       string  `json:"ulid"`
	MinTime    int64   `json:"minTime"`
	MaxTime    int64   `json:"maxTime"`
	NumSamples uint64  `json:"numSamples"`
	NumSeries  uint64  `json:"numSeries"`
	Level      int     `json:"level"`
	Parents    int     `json:"parents"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"durationSeconds"`
}

// compact serves POST /api/v1/admin/tsdb/compact (this server's own
// endpoint, for `tsdb compact`): runs whatever compaction is due and lists
// the blocks written.
func (a *API) compact(*http.Request) (any, *apiError) {
	if a.opts.Compact == nil {
		return nil, newError(ErrUnavailable, errors.New("compaction is not available"))
	}
	rep, err := a.opts.Compact()
	if err != nil {
		return nil, newError(ErrInternal, err)
	}
	out := []compactedBlock{}
	for _, c := range rep {
		out = append(out, compactedBlock{
			ULID: c.Meta.ULID.String(), MinTime: c.Meta.MinTime, MaxTime: c.Meta.MaxTime,
			NumSamples: uint64(c.Meta.Stats.NumSamples), NumSeries: uint64(c.Meta.Stats.NumSeries),
			Level: c.Meta.Compaction.Level, Parents: len(c.Parents), Bytes: c.Size, Seconds: c.Duration.Round(time.Millisecond).Seconds(),
		})
	}
	return out, nil
}
