package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage15-tsdb/client"
)

// Compaction in the server: the loop runs it every CompactInterval, the
// admin API starts it as a job, clean_tombstones runs it and waits. One
// at a time (compactMu). The storage engine reports each block as it
// writes or deletes it (tsdb.Options.OnBlockWritten, OnRetention): the
// server logs and counts them there, and adds them to the job running, so
// a long compaction shows its progress as it goes.

// compact runs whatever compaction is due and returns the blocks written.
// job, if not nil, collects them. It stops between two blocks when the
// server shuts down.
func (s *Server) compact(job *compactJob) ([]tsdb.CompactStats, error) {
	db := s.db.Load()
	if db == nil {
		return nil, errors.New("server: storage not open")
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.jobs.setActive(job)
	defer s.jobs.setActive(nil)
	rep, err := db.CompactReport(s.ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.metrics.CompactionFailures.Inc()
		s.log.Error("compaction failed", "err", err)
	}
	s.logDamage(db)
	return rep, err
}

// blockWritten is the storage's report of a block written by compaction.
func (s *Server) blockWritten(c tsdb.CompactStats) {
	s.metrics.Compactions.Inc()
	s.metrics.CompactionDuration.Observe(c.Duration.Seconds())
	if len(c.Parents) == 0 {
		s.headSamples.Add(-int64(c.Meta.Stats.NumSamples))
	}
	s.log.Info("compaction", "block", c.Meta.ULID.String(), "level", c.Meta.Compaction.Level, "parents", len(c.Parents),
		"mint", fmtMillis(c.Meta.MinTime), "maxt", fmtMillis(c.Meta.MaxTime), "samples", c.Meta.Stats.NumSamples,
		"bytes", c.Size, "duration", c.Duration.Round(time.Millisecond))
	s.jobs.add(func(j *client.CompactJob) { j.Blocks = append(j.Blocks, compactedBlock(c)) })
}

// retentionDeleted is the storage's report of a block retention deleted.
func (s *Server) retentionDeleted(d tsdb.RetentionDeletion) {
	s.metrics.RetentionDeletions.WithLabelValues(d.Reason).Inc()
	s.log.Info("retention deleted a block", "block", d.Meta.ULID.String(), "reason", d.Reason,
		"mint", fmtMillis(d.Meta.MinTime), "maxt", fmtMillis(d.Meta.MaxTime), "samples", d.Meta.Stats.NumSamples, "bytes", d.Size,
		"retention", time.Duration(s.cfg.Retention).String(), "retention_size", s.cfg.RetentionSize)
	s.jobs.add(func(j *client.CompactJob) {
		j.Deleted = append(j.Deleted, client.DeletedBlock{ULID: d.Meta.ULID.String(), MinTime: d.Meta.MinTime, MaxTime: d.Meta.MaxTime, Bytes: d.Size, Reason: d.Reason})
	})
}

func compactedBlock(c tsdb.CompactStats) client.CompactedBlock {
	return client.CompactedBlock{
		ULID: c.Meta.ULID.String(), MinTime: c.Meta.MinTime, MaxTime: c.Meta.MaxTime,
		NumSamples: c.Meta.Stats.NumSamples, NumSeries: c.Meta.Stats.NumSeries,
		Level: c.Meta.Compaction.Level, Parents: len(c.Parents), Bytes: c.Size, Seconds: c.Duration.Round(time.Millisecond).Seconds(),
	}
}

// fmtMillis is a timestamp in the logs.
func fmtMillis(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// compactJob is one compaction the admin API started.
type compactJob struct {
	client.CompactJob
	start time.Time
}

// compactJobs keeps the latest job (api.CompactJobs). mu guards it and
// active, the job whose compaction holds compactMu now.
type compactJobs struct {
	s      *Server
	mu     sync.Mutex
	latest *compactJob
	active *compactJob
}

func (j *compactJobs) Start() client.CompactJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.latest != nil && j.latest.State == client.JobRunning {
		return j.snapshot(j.latest)
	}
	id := int64(1)
	if j.latest != nil {
		id = j.latest.ID + 1
	}
	now := time.Now()
	job := &compactJob{CompactJob: client.CompactJob{ID: id, State: client.JobRunning, Started: now.UTC().Format(time.RFC3339),
		Blocks: []client.CompactedBlock{}, Deleted: []client.DeletedBlock{}}, start: now}
	j.latest = job
	j.s.wg.Add(1)
	go func() {
		defer j.s.wg.Done()
		_, err := j.s.compact(job)
		j.mu.Lock()
		defer j.mu.Unlock()
		job.State, job.Seconds = client.JobDone, time.Since(job.start).Seconds()
		if err != nil {
			job.State, job.Error = client.JobFailed, err.Error()
		}
	}()
	return j.snapshot(job)
}

func (j *compactJobs) Job(id int64) (client.CompactJob, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.latest == nil || j.latest.ID != id {
		return client.CompactJob{}, false
	}
	return j.snapshot(j.latest), true
}

// snapshot copies a job for an answer. Called with mu.
func (j *compactJobs) snapshot(job *compactJob) client.CompactJob {
	c := job.CompactJob
	if c.State == client.JobRunning {
		c.Seconds = time.Since(job.start).Seconds()
	}
	c.Blocks = append([]client.CompactedBlock{}, c.Blocks...)
	c.Deleted = append([]client.DeletedBlock{}, c.Deleted...)
	return c
}

func (j *compactJobs) setActive(job *compactJob) {
	j.mu.Lock()
	j.active = job
	j.mu.Unlock()
}

// add records what the active job did, if a job is active.
func (j *compactJobs) add(f func(*client.CompactJob)) {
	j.mu.Lock()
	if j.active != nil {
		f(&j.active.CompactJob)
	}
	j.mu.Unlock()
}
