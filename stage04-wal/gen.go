package main

import (
	"fmt"
	"strconv"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// The workload every subcommand shares. Appender g is one host with 1,000
// series (cpu_usage{host="host-g",cpu="i"}, ref g*1000+i); its batch b is
// one scrape of all of them at startMs + b*stepMs. Values are a function of
// (ref, b), so recovery can check every sample it finds without having
// kept a copy.
const (
	seriesPerHost = 1000
	startMs       = 1_700_000_000_000
	stepMs        = 10_000
)

func seriesRef(g, i int) uint64 { return uint64(g*seriesPerHost + i) }

func seriesLabels(g, i int) model.Labels {
	return model.MustFromStrings(model.MetricName, "cpu_usage", "host", "host-"+strconv.Itoa(g), "cpu", strconv.Itoa(i))
}

func sampleValue(ref uint64, b int) float64 { return float64((ref*7+uint64(b)*13)%1000) / 10 }

func batchTime(b int) int64 { return startMs + int64(b)*stepMs }

// hostSeries is appender g's series record.
func hostSeries(g int) []wal.RefSeries {
	s := make([]wal.RefSeries, seriesPerHost)
	for i := range s {
		s[i] = wal.RefSeries{Ref: seriesRef(g, i), Labels: seriesLabels(g, i)}
	}
	return s
}

// fillBatch fills dst with appender g's batch b.
func fillBatch(dst []wal.RefSample, g, b int) {
	t := batchTime(b)
	for i := range dst {
		ref := seriesRef(g, i)
		dst[i] = wal.RefSample{Ref: ref, T: t, V: sampleValue(ref, b)}
	}
}

// batchesFor splits total batches over appenders: appender g writes
// batches 0..n-1 of its own host.
func batchesFor(totalBatches, appenders, g int) int {
	n := totalBatches / appenders
	if g < totalBatches%appenders {
		n++
	}
	return n
}

// headState is the in-memory state replay rebuilds: the series and, per
// series, how many consecutive batches arrived, checked sample by sample
// against the generator as they are applied.
type headState struct {
	labels  map[uint64]model.Labels
	next    map[uint64]int // per series: next expected batch number
	minT    int64
	maxT    int64
	points  int
	deleted int
	errs    []string
	// repaired: records were cut out of the log (recover --repair), so a
	// series may skip batches; they are counted in missing, not failed.
	repaired bool
	missing  int
	orphans  int
}

func newHeadState() *headState {
	return &headState{labels: map[uint64]model.Labels{}, next: map[uint64]int{}, minT: 1<<63 - 1, maxT: -1 << 63}
}

func (h *headState) fail(format string, a ...any) {
	if len(h.errs) < 10 {
		h.errs = append(h.errs, fmt.Sprintf(format, a...))
	}
}

// apply decodes one record into the state. A checkpoint may start a series
// at a later batch (older samples are in blocks), so the first sample of a
// series sets where it starts; after that batches must be consecutive.
func (h *headState) apply(rec []byte, series []wal.RefSeries, samples []wal.RefSample) ([]wal.RefSeries, []wal.RefSample, error) {
	var err error
	switch wal.Type(rec) {
	case wal.RecordSeries:
		if series, err = wal.DecodeSeries(rec, series); err != nil {
			return series, samples, err
		}
		for _, s := range series {
			g, i := int(s.Ref/seriesPerHost), int(s.Ref%seriesPerHost)
			if !s.Labels.Equal(seriesLabels(g, i)) {
				h.fail("series %d is %s, want %s", s.Ref, s.Labels, seriesLabels(g, i))
			}
			h.labels[s.Ref] = s.Labels
		}
	case wal.RecordSamples, wal.RecordDenseSamples:
		if samples, err = wal.DecodeSamples(rec, samples); err != nil {
			return series, samples, err
		}
		for _, s := range samples {
			b := int((s.T - startMs) / stepMs)
			if _, ok := h.labels[s.Ref]; !ok {
				if h.repaired {
					h.orphans++ // its series record was in the damage: it cannot be placed
					continue
				}
				h.fail("sample of series %d before its series record", s.Ref)
			}
			if s.T != batchTime(b) || s.V != sampleValue(s.Ref, b) {
				h.fail("series %d: sample (%d, %v) is not the generator's", s.Ref, s.T, s.V)
			}
			if want, seen := h.next[s.Ref]; seen && b != want {
				if h.repaired && b > want {
					h.missing += b - want
				} else {
					h.fail("series %d: batch %d follows batch %d", s.Ref, b, want-1)
				}
			}
			h.next[s.Ref] = b + 1
			h.minT, h.maxT = min(h.minT, s.T), max(h.maxT, s.T)
			h.points++
		}
	case wal.RecordDeletes:
		var stones []wal.Tombstone
		if stones, err = wal.DecodeTombstones(rec, nil); err != nil {
			return series, samples, err
		}
		h.deleted += len(stones)
	default:
		h.fail("unknown record type %v", wal.Type(rec))
	}
	return series, samples, nil
}

// batches is, per host, the number of batches recovered for its series
// (the minimum over its series: a batch is one record, so all agree).
func (h *headState) batches(hosts int) []int {
	out := make([]int, hosts)
	for g := range out {
		out[g] = -1
		for i := range seriesPerHost {
			n, ok := h.next[seriesRef(g, i)]
			if !ok {
				n = 0
			}
			if out[g] < 0 || n < out[g] {
				out[g] = n
			}
		}
	}
	return out
}
