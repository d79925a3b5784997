package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tsdb-course/stage15-tsdb/client"
)

// CompactJobs runs compactions in the background, one at a time, and
// keeps the latest job's progress; the server implements it. A
// compaction of a head spanning months writes many blocks: the client
// follows the job instead of waiting on one request.
type CompactJobs interface {
	// Start starts a job, or returns the one running.
	Start() client.CompactJob
	// Job returns job id, if it is the latest.
	Job(id int64) (client.CompactJob, bool)
}

// compact serves POST /api/v1/admin/tsdb/compact (this server's own
// endpoint, for `tsdb compact`): starts compacting whatever is due (or
// finds the job already running) and answers the job at once; its
// progress is at GET /api/v1/admin/tsdb/compact/<id>. The answers are
// the client package's CompactJob: one definition of the wire format.
func (a *API) compact(*http.Request) (any, []string, *apiError) {
	if a.opts.CompactJobs == nil {
		return nil, nil, newError(ErrUnavailable, errors.New("compaction is not available"))
	}
	return a.opts.CompactJobs.Start(), nil, nil
}

// compactJob serves GET /api/v1/admin/tsdb/compact/<id>: the job's blocks
// written and deleted so far and its state; 404 once a newer job started.
func (a *API) compactJob(r *http.Request) (any, []string, *apiError) {
	if a.opts.CompactJobs == nil {
		return nil, nil, newError(ErrUnavailable, errors.New("compaction is not available"))
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, nil, badParam("id", err)
	}
	job, ok := a.opts.CompactJobs.Job(id)
	if !ok {
		return nil, nil, newError(ErrNotFound, fmt.Errorf("no compaction job %d (only the latest is kept)", id))
	}
	return job, nil, nil
}
