package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// appendLocal stores series in a node's own DB in one commit. A sample the
// DB already holds (a replica written twice: a retried write, a hint
// replayed after the write had in fact landed, healing streaming what a
// node already has) is accepted and stored once, which is what makes
// every node-to-node write idempotent.
func appendLocal(db *tsdb.DB, series []remote.Series) (int, error) {
	app := db.Appender(context.Background())
	n := 0
	var refused error
	for _, s := range series {
		ref := uint64(0)
		for _, p := range s.Samples {
			r, err := app.Append(ref, s.Labels, p.T, p.V)
			if err != nil {
				if refused == nil {
					refused = fmt.Errorf("series %s at %d: %w", s.Labels, p.T, err)
				}
				continue
			}
			ref = r
			n++
		}
	}
	if err := app.Commit(); err != nil {
		return 0, fmt.Errorf("cluster: commit: %w", err)
	}
	if refused != nil {
		return n, fmt.Errorf("cluster: some samples refused: %w", refused)
	}
	return n, nil
}

// readLocal reads the series of a node's own DB that match ms in [mint,
// maxt], samples in time order; series without a sample in the range are
// left out (a healed-away series has only tombstoned samples).
func readLocal(db *tsdb.DB, mint, maxt int64, ms []*index.Matcher) ([]remote.Series, int64, error) {
	q, err := db.Querier(mint, maxt)
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: querier: %w", err)
	}
	defer q.Close()
	var out []remote.Series
	var samples int64
	ss := q.Select(ms...)
	var it tsdb.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var pts []model.Sample
		for it.Next() {
			t, v := it.At()
			pts = append(pts, model.Sample{T: t, V: v})
		}
		if err := it.Err(); err != nil {
			return nil, 0, fmt.Errorf("cluster: read %s: %w", s.Labels(), err)
		}
		if len(pts) > 0 {
			out = append(out, remote.Series{Labels: s.Labels(), Samples: pts})
			samples += int64(len(pts))
		}
	}
	if err := ss.Err(); err != nil {
		return nil, 0, fmt.Errorf("cluster: select: %w", err)
	}
	return out, samples, nil
}

// streamLocal writes the series of a node's own DB that match ms in
// [mint, maxt] to cw as chunks for the query at qi. With stage03 the
// chunks go as stored (tsdb.ChunkSeries) where they hold exactly the
// series' samples, and the reader clips them to the range; otherwise the
// samples in the range are encoded again: into stage03 chunks, or into
// Prometheus's XOR chunks for a client that reads only those.
func streamLocal(db *tsdb.DB, mint, maxt int64, ms []*index.Matcher, stage03 bool, cw *remote.ChunkedWriter, qi int64) (int64, error) {
	q, err := db.Querier(mint, maxt)
	if err != nil {
		return 0, fmt.Errorf("cluster: querier: %w", err)
	}
	defer q.Close()
	ss := q.Select(ms...)
	var (
		it      tsdb.Iterator
		raw     []tsdb.RawChunk
		pts     []model.Sample
		samples int64
	)
	for ss.Next() {
		s := ss.At()
		cs := remote.ChunkedSeries{Labels: s.Labels()}
		if c, ok := s.(tsdb.ChunkSeries); ok && stage03 {
			var whole bool
			raw, whole, err = c.AppendChunks(raw[:0])
			if err != nil {
				return samples, fmt.Errorf("cluster: read %s: %w", s.Labels(), err)
			}
			if whole {
				for _, r := range raw {
					cs.Chunks = append(cs.Chunks, remote.Chunk{MinT: r.MinT, MaxT: r.MaxT, Type: remote.ChunkStage03, Data: r.Data})
				}
			}
		}
		if cs.Chunks == nil {
			it = s.Iterator(it)
			pts = pts[:0]
			for it.Next() {
				t, v := it.At()
				pts = append(pts, model.Sample{T: t, V: v})
			}
			if err := it.Err(); err != nil {
				return samples, fmt.Errorf("cluster: read %s: %w", s.Labels(), err)
			}
			if len(pts) == 0 {
				continue // only deleted samples: as readLocal
			}
			samples += int64(len(pts))
			if stage03 {
				cs.Chunks, err = stage03Chunks(pts)
				if err != nil {
					return samples, fmt.Errorf("cluster: read %s: %w", s.Labels(), err)
				}
			} else {
				cs.Chunks = remote.XORChunks(pts)
			}
		}
		if err := cw.Write(qi, cs); err != nil {
			return samples, err
		}
	}
	if err := ss.Err(); err != nil {
		return samples, fmt.Errorf("cluster: select: %w", err)
	}
	return samples, nil
}

// stage03Chunks encodes time-ordered samples as stage03 chunks of at most
// remote.XORChunkSamples samples.
func stage03Chunks(pts []model.Sample) ([]remote.Chunk, error) {
	var out []remote.Chunk
	ts := make([]int64, 0, remote.XORChunkSamples)
	vs := make([]float64, 0, remote.XORChunkSamples)
	for len(pts) > 0 {
		n := min(len(pts), remote.XORChunkSamples)
		ts, vs = ts[:0], vs[:0]
		for _, p := range pts[:n] {
			ts, vs = append(ts, p.T), append(vs, p.V)
		}
		c, err := gorilla.Encode(ts, vs, gorilla.XOR)
		if err != nil {
			return nil, err
		}
		out = append(out, remote.Chunk{MinT: ts[0], MaxT: ts[n-1], Type: remote.ChunkStage03, Data: c.Bytes()})
		pts = pts[n:]
	}
	return out, nil
}

// ErrBadChunk: a streamed answer's chunk that cannot be read.
var ErrBadChunk = errors.New("cluster: bad chunk in a streamed read")

// chunkSamples appends the samples of a streamed series' stage03 chunks
// in [mint, maxt] to dst: a chunk sent as stored may hold samples outside
// the range asked, and consecutive chunks never overlap.
func chunkSamples(dst []model.Sample, cs []remote.Chunk, mint, maxt int64) ([]model.Sample, error) {
	for _, c := range cs {
		if c.Type != remote.ChunkStage03 {
			return dst, fmt.Errorf("%w: encoding %d, want stage03", ErrBadChunk, c.Type)
		}
		n := len(dst)
		var err error
		dst, err = gorilla.AppendSamples(c.Data, dst)
		if err != nil {
			return dst, fmt.Errorf("%w: %v", ErrBadChunk, err)
		}
		k := n
		for _, p := range dst[n:] {
			if p.T >= mint && p.T <= maxt {
				dst[k] = p
				k++
			}
		}
		dst = dst[:k]
	}
	return dst, nil
}

// toRemoteMatchers converts stage05 matchers to remote read's; the two
// enumerations are the same (=, !=, =~, !~).
func toRemoteMatchers(ms []*index.Matcher) []remote.Matcher {
	out := make([]remote.Matcher, len(ms))
	for i, m := range ms {
		out[i] = remote.Matcher{Type: remote.MatchType(m.Type()), Name: m.Name(), Value: m.Value()}
	}
	return out
}

// ErrBadMatcher: a remote-read matcher that stage05 cannot build.
var ErrBadMatcher = errors.New("cluster: bad matcher")

func fromRemoteMatchers(ms []remote.Matcher) ([]*index.Matcher, error) {
	out := make([]*index.Matcher, len(ms))
	for i, m := range ms {
		x, err := index.NewMatcher(index.MatchType(m.Type), m.Name, m.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMatcher, err)
		}
		out[i] = x
	}
	return out, nil
}

// mergeSamples merges time-sorted sample lists into one, a timestamp that
// appears in several (a replicated sample) once.
func mergeSamples(lists ...[]model.Sample) []model.Sample {
	var all []model.Sample
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b model.Sample) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(all, func(a, b model.Sample) bool { return a.T == b.T })
}
