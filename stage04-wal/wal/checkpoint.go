package wal

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// CheckpointStats reports what Checkpoint kept and removed.
type CheckpointStats struct {
	Name           string // checkpoint.NNNNNNNN written
	Upto           int    // last segment covered
	FromCheckpoint int    // previous checkpoint folded in, -1 if none
	SegmentsRead   int
	Records        int   // records written to the checkpoint
	Bytes          int64 // its size

	SeriesKept, SeriesDropped         int
	SamplesKept, SamplesDropped       int
	TombstonesKept, TombstonesDropped int
	HistogramsKept, HistogramsDropped int // integer and float histogram samples
	OtherRecords                      int // records of types other than 1-3, 7 and 8, copied verbatim

	SegmentsDeleted []int
}

// Checkpoint folds everything up to segment upto into one file and deletes
// those segments. Call it once the samples of those segments are persisted
// elsewhere (in a block): what recovery still needs from them is
//
//   - the series a later sample may refer to: those for which keep(ref) is
//     true (keep == nil keeps all);
//   - samples (floats and histograms) of kept series with t ≥ mint (older
//     ones are in blocks);
//   - tombstones of kept series reaching into [mint, …);
//   - records of any other type, copied verbatim: the WAL does not know
//     what they mean, so it never drops them.
//
// The previous checkpoint, if any, is read first and replaced. upto must be
// below the last segment (the one that may be open for appending; call
// WAL.NextSegment first to include everything).
//
// Crash safety: the checkpoint is written to checkpoint.NNNNNNNN.tmp,
// fsynced, renamed, and the directory fsynced before anything is deleted.
// A crash before the rename leaves a .tmp that readers ignore and Open
// removes; after it, readers take the checkpoint and skip the segments it
// covers even if they still exist, and Open finishes deleting them.
//
// Records are written with the default Compression (CompressionSnappy);
// WAL.Checkpoint uses the log's own.
func Checkpoint(dir string, upto int, keep func(ref uint64) bool, mint int64) (CheckpointStats, error) {
	return checkpoint(dir, upto, keep, mint, CompressionSnappy, runtime.Gosched, nil)
}

// Checkpoint is the package's Checkpoint on w's directory, writing the
// checkpoint's records with w's Options.Compression.
func (w *WAL) Checkpoint(upto int, keep func(ref uint64) bool, mint int64) (CheckpointStats, error) {
	return w.CheckpointYield(upto, keep, mint, runtime.Gosched)
}

// CheckpointYield is Checkpoint calling yield before each record it
// copies, where Checkpoint calls runtime.Gosched. A checkpoint reads every
// record of the segments it covers, tenths of a second of CPU under a
// heavy load, on a goroutine beside the appenders; Go's scheduler has no
// priorities, so it yields between records (runtime.Gosched puts it at the
// back of the global run queue, which a P reads when its own queue is
// empty) and the appenders run first. A caller that paces its background
// work to a share of a core (stage06's BackgroundShare) passes its pacer:
// a yield only decides who runs next, and with more Ps than cores the
// yielding checkpoint is picked up again at once. A nil yield is
// runtime.Gosched.
func (w *WAL) CheckpointYield(upto int, keep func(ref uint64) bool, mint int64, yield func()) (CheckpointStats, error) {
	if yield == nil {
		yield = runtime.Gosched
	}
	return checkpoint(w.dir, upto, keep, mint, w.opts.Compression, yield, nil)
}

// checkpoint is Checkpoint with a hook (tests) that runs after each step;
// an error from it stops there, leaving the directory as a crash at that
// point would. It is a parameter, not a package variable, so tests that
// crash one checkpoint cannot disturb another running in parallel.
func checkpoint(dir string, upto int, keep func(ref uint64) bool, mint int64, comp Compression, yield func(), hook func(step string) error) (CheckpointStats, error) {
	if hook == nil {
		hook = func(string) error { return nil }
	}
	st := CheckpointStats{Name: CheckpointName(upto), Upto: upto, FromCheckpoint: -1}
	c, err := listDir(dir)
	if err != nil {
		return st, err
	}
	var files []logFile
	after := -1
	if cp, ok := c.lastCheckpoint(); ok {
		if upto <= cp {
			return st, fmt.Errorf("wal: checkpoint up to %d: %w: %s already covers it", upto, ErrBadSegment, CheckpointName(cp))
		}
		files = append(files, logFile{path: filepath.Join(dir, CheckpointName(cp)), index: cp, checkpoint: true})
		st.FromCheckpoint, after = cp, cp
	}
	if len(c.segments) == 0 || upto >= c.segments[len(c.segments)-1] {
		return st, fmt.Errorf("wal: checkpoint up to %d: %w: must be below the last segment", upto, ErrBadSegment)
	}
	prev := after
	for _, s := range c.segments {
		if s <= after || s > upto {
			continue
		}
		if prev >= 0 && s != prev+1 {
			return st, &CorruptionError{Segment: prev + 1, Reason: "segment missing"}
		}
		files = append(files, logFile{path: filepath.Join(dir, SegmentName(s)), index: s})
		prev = s
		st.SegmentsRead++
	}

	tmp := filepath.Join(dir, st.Name+tmpSuffix)
	if err := os.RemoveAll(tmp); err != nil {
		return st, fmt.Errorf("wal: checkpoint: %w", err)
	}
	if err := writeCheckpoint(tmp, files, keep, mint, comp, yield, &st); err != nil {
		os.Remove(tmp)
		return st, err
	}
	if err := hook("written"); err != nil {
		return st, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, st.Name)); err != nil {
		return st, fmt.Errorf("wal: checkpoint: %w", err)
	}
	if err := hook("renamed"); err != nil {
		return st, err
	}
	if err := SyncDir(dir); err != nil {
		return st, err
	}
	if err := hook("synced"); err != nil {
		return st, err
	}
	st.SegmentsDeleted, err = removeSegments(dir, c.segments, upto)
	if err != nil {
		return st, err
	}
	if err := hook("segments-deleted"); err != nil {
		return st, err
	}
	return st, removeCheckpointsBefore(dir, c.checkpoints, upto)
}

// writeCheckpoint filters the records of files into a new file at path and
// fsyncs it.
func writeCheckpoint(path string, files []logFile, keep func(uint64) bool, mint int64, comp Compression, yield func(), st *CheckpointStats) error {
	if keep == nil {
		keep = func(uint64) bool { return true }
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("wal: checkpoint: %w", err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var (
		series  []RefSeries
		samples []RefSample
		stones  []Tombstone
		hs      []RefHistogram
		fhs     []RefFloatHistogram
		rec     []byte
		frame   []byte
		synced  int64 // st.Bytes at the last fsync step
	)
	emit := func(r []byte) error {
		if frame, err = appendRecordFrame(frame[:0], r, comp); err != nil {
			return err
		}
		st.Records++
		st.Bytes += int64(len(frame))
		if _, err := bw.Write(frame); err != nil {
			return err
		}
		if st.Bytes-synced >= checkpointSyncEvery {
			synced = st.Bytes
			if err := bw.Flush(); err != nil {
				return err
			}
			if err := checkpointSync(f); err != nil {
				return fmt.Errorf("fsync: %w", err)
			}
		}
		return nil
	}
	r := newReader(files, false)
	defer r.Close()
	for r.Next() {
		yield()
		in := r.Record()
		switch Type(in) {
		case RecordSeries:
			if n, kept, ok := seriesKept(in, keep); ok && (kept == 0 || kept == n) {
				st.SeriesKept += kept
				st.SeriesDropped += n - kept
				if kept == 0 {
					continue
				}
				rec = append(rec[:0], in...) // as it is (passthrough.go)
				break
			}
			if series, err = DecodeSeries(in, series); err != nil {
				return positioned(r, err)
			}
			before := len(series)
			series = slices.DeleteFunc(series, func(s RefSeries) bool { return !keep(s.Ref) })
			st.SeriesKept += len(series)
			st.SeriesDropped += before - len(series)
			if len(series) == 0 {
				continue
			}
			rec = AppendSeries(rec[:0], series)
		case RecordSamples, RecordDenseSamples:
			if n, all, some, ok := denseKept(in, keep, mint); ok && !some {
				if !all {
					st.SamplesDropped += n
					continue
				}
				st.SamplesKept += n
				rec = append(rec[:0], in...) // as it is (passthrough.go)
				break
			}
			if samples, err = DecodeSamples(in, samples); err != nil {
				return positioned(r, err)
			}
			before := len(samples)
			samples = slices.DeleteFunc(samples, func(s RefSample) bool { return s.T < mint || !keep(s.Ref) })
			st.SamplesKept += len(samples)
			st.SamplesDropped += before - len(samples)
			if len(samples) == 0 {
				continue
			}
			if Type(in) == RecordDenseSamples {
				rec = AppendDenseSamples(rec[:0], samples)
			} else { // each record keeps its form, as a reader of either expects
				rec = AppendSamples(rec[:0], samples)
			}
		case RecordDeletes:
			if stones, err = DecodeTombstones(in, stones); err != nil {
				return positioned(r, err)
			}
			before := len(stones)
			stones = slices.DeleteFunc(stones, func(s Tombstone) bool { return s.Maxt < mint || !keep(s.Ref) })
			st.TombstonesKept += len(stones)
			st.TombstonesDropped += before - len(stones)
			if len(stones) == 0 {
				continue
			}
			rec = AppendTombstones(rec[:0], stones)
		case RecordHistograms:
			if hs, err = DecodeHistograms(in, hs); err != nil {
				return positioned(r, err)
			}
			before := len(hs)
			hs = slices.DeleteFunc(hs, func(s RefHistogram) bool { return s.T < mint || !keep(s.Ref) })
			st.HistogramsKept += len(hs)
			st.HistogramsDropped += before - len(hs)
			if len(hs) == 0 {
				continue
			}
			rec = AppendHistograms(rec[:0], hs)
		case RecordFloatHistograms:
			if fhs, err = DecodeFloatHistograms(in, fhs); err != nil {
				return positioned(r, err)
			}
			before := len(fhs)
			fhs = slices.DeleteFunc(fhs, func(s RefFloatHistogram) bool { return s.T < mint || !keep(s.Ref) })
			st.HistogramsKept += len(fhs)
			st.HistogramsDropped += before - len(fhs)
			if len(fhs) == 0 {
				continue
			}
			rec = AppendFloatHistograms(rec[:0], fhs)
		default:
			st.OtherRecords++
			rec = append(rec[:0], in...)
		}
		if err := emit(rec); err != nil {
			return fmt.Errorf("wal: checkpoint: write: %w", err)
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("wal: checkpoint: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("wal: checkpoint: write: %w", err)
	}
	if err := checkpointSync(f); err != nil {
		return fmt.Errorf("wal: checkpoint: fsync: %w", err)
	}
	return f.Close()
}

// checkpointSyncEvery is how many bytes a checkpoint writes between two
// fsyncs of its file. A checkpoint is megabytes (the head's samples since
// its lower bound); left dirty until one fsync at the end, its writeback
// lands in one ext4 journal transaction, and every WAL fsync that needs
// that commit (data=ordered) waits for all of it: 6 MiB is 40-50 ms on a
// disk writing 130 MB/s. Written back 1 MiB at a time, a WAL fsync waits
// for one step at most (about 8 ms).
var checkpointSyncEvery int64 = 1 << 20

// checkpointSync fsyncs the checkpoint being written (tests count it).
var checkpointSync = (*os.File).Sync

// positioned wraps a record decoding error with where the record is.
func positioned(r *Reader, err error) error {
	seg, cp, off := r.Position()
	return fmt.Errorf("wal: checkpoint: %w", &CorruptionError{Segment: seg, Checkpoint: cp, Offset: off, Reason: err.Error()})
}

// removeCheckpointsBefore deletes checkpoints older than n.
func removeCheckpointsBefore(dir string, cps []int, n int) error {
	removed := false
	for _, cp := range cps {
		if cp >= n {
			break
		}
		if err := os.Remove(filepath.Join(dir, CheckpointName(cp))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: remove %s: %w", CheckpointName(cp), err)
		}
		removed = true
	}
	if removed {
		return SyncDir(dir)
	}
	return nil
}
