package tsdb

import (
	"math"
	"sort"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// oooBatch is how many out-of-order samples a series collects, unsorted,
// before they are sorted into a chunk of their own (Prometheus uses 32 too):
// out-of-order data is rare, so it is kept apart instead of slowing down
// the in-order path, and merged with it on query and compaction.
const oooBatch = 32

// oooSamples holds a series' out-of-order samples: sorted chunks that may
// overlap each other and the in-order chunks, plus a batch being collected.
type oooSamples struct {
	chunks []memChunk
	batch  []model.Sample
	// hbatch collects histogram samples, as batch floats.
	hbatch []hsample
}

// addHist adds an out-of-order histogram sample.
func (o *oooSamples) addHist(hs hsample) {
	o.hbatch = append(o.hbatch, hs)
	if len(o.hbatch) >= oooBatch {
		o.flush()
	}
}

// sortedUniqueHist is sortedUnique for histogram samples.
func sortedUniqueHist(ss []hsample) []hsample {
	cp := append([]hsample(nil), ss...)
	sort.SliceStable(cp, func(i, j int) bool { return cp[i].t < cp[j].t })
	out := cp[:0]
	for i, s := range cp {
		if i > 0 && cp[i-1].t == s.t {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (o *oooSamples) add(t int64, v float64) {
	o.batch = append(o.batch, model.Sample{T: t, V: v})
	if len(o.batch) >= oooBatch {
		o.flush()
	}
}

// flush turns the batch into a chunk. Within the batch the first sample
// written for a timestamp wins, as in Prometheus's out-of-order chunk
// (whose Insert refuses a timestamp it holds).
func (o *oooSamples) flush() {
	if len(o.hbatch) > 0 {
		o.chunks = append(o.chunks, encodeMem(sortedUniqueHist(o.hbatch))...)
		clear(o.hbatch)
		o.hbatch = o.hbatch[:0]
	}
	if len(o.batch) == 0 {
		return
	}
	ss := sortedUnique(o.batch)
	o.chunks = append(o.chunks, encodeSamples(ss)...)
	o.batch = o.batch[:0]
}

// sortedUnique sorts a copy of ss by time, keeping the first of equal
// timestamps.
func sortedUnique(ss []model.Sample) []model.Sample {
	cp := append([]model.Sample(nil), ss...)
	sort.SliceStable(cp, func(i, j int) bool { return cp[i].T < cp[j].T })
	out := cp[:0]
	for i, s := range cp {
		if i > 0 && cp[i-1].T == s.T {
			continue
		}
		out = append(out, s)
	}
	return out
}

// encodeSamples encodes sorted samples into chunks of SamplesPerChunk.
func encodeSamples(ss []model.Sample) []memChunk {
	var out []memChunk
	for len(ss) > 0 {
		n := min(len(ss), SamplesPerChunk)
		c, _ := gorilla.NewChunk(gorilla.XOR)
		a, _ := c.Appender()
		for _, s := range ss[:n] {
			_ = a.Append(s.T, s.V) // ≤ 120 samples, any float: cannot fail
		}
		out = append(out, memChunk{minT: ss[0].T, maxT: ss[n-1].T, data: append([]byte(nil), c.Bytes()...)})
		ss = ss[n:]
	}
	return out
}

func (o *oooSamples) minTime() int64 {
	m := int64(math.MaxInt64)
	for _, c := range o.chunks {
		m = min(m, c.minT)
	}
	for _, s := range o.batch {
		m = min(m, s.T)
	}
	for _, s := range o.hbatch {
		m = min(m, s.t)
	}
	return m
}

func (o *oooSamples) empty() bool {
	return len(o.chunks) == 0 && len(o.batch) == 0 && len(o.hbatch) == 0
}

// snapshot appends the out-of-order chunks overlapping [mint, maxt], the
// pending batch encoded as one more.
func (o *oooSamples) snapshot(dst []chunkSrc, ss *sourceSet, mint, maxt int64, stones block.Intervals) []chunkSrc {
	add := func(c memChunk) {
		if c.minT <= maxt && c.maxT >= mint {
			src := ss.new(source{data: c.data, stones: stones, capT: math.MaxInt64, ooo: true})
			dst = append(dst, chunkSrc{minT: c.minT, maxT: c.maxT, ref: memRef(c.data), src: src})
		}
	}
	for _, c := range o.chunks {
		add(c)
	}
	if len(o.batch) > 0 {
		for _, c := range encodeSamples(sortedUnique(o.batch)) {
			add(c)
		}
	}
	if len(o.hbatch) > 0 {
		for _, c := range encodeMem(sortedUniqueHist(o.hbatch)) {
			add(c)
		}
	}
	return dst
}

// truncate drops samples before mint, re-encoding chunks that straddle it.
func (o *oooSamples) truncate(mint int64) {
	var keep []memChunk
	for _, c := range o.chunks {
		switch {
		case c.maxT < mint:
		case c.minT >= mint:
			keep = append(keep, c)
		case chunks.EncodingOf(c.data) != chunks.EncFloat:
			hs, err := decodeHist(c.data, nil, nil)
			if err != nil {
				continue
			}
			i := 0
			for i < len(hs) && hs[i].t < mint {
				i++
			}
			keep = append(keep, encodeMem(hs[i:])...)
		default:
			ts, vs, err := gorilla.DecodeAll(c.data, nil, nil)
			if err != nil {
				continue
			}
			var ss []model.Sample
			for i, t := range ts {
				if t >= mint {
					ss = append(ss, model.Sample{T: t, V: vs[i]})
				}
			}
			keep = append(keep, encodeSamples(ss)...)
		}
	}
	o.chunks = keep
	b := o.batch[:0]
	for _, s := range o.batch {
		if s.T >= mint {
			b = append(b, s)
		}
	}
	o.batch = b
	hb := o.hbatch[:0]
	for _, s := range o.hbatch {
		if s.t >= mint {
			hb = append(hb, s)
		}
	}
	clear(o.hbatch[len(hb):])
	o.hbatch = hb
}
