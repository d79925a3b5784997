package index

import (
	"cmp"
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Stats describes the contents and size of an index: the demo's "Index
// stats" and what a /status/tsdb page shows.
type Stats struct {
	Series        int    // live series
	LabelNames    int    // distinct label names
	LabelPairs    int    // distinct name=value pairs = postings lists
	PostingsBytes uint64 // in-memory size of the postings bitmaps (roaring's GetSizeInBytes; 4 for a pair of one series)
	SeriesBytes   uint64 // in-memory size of the per-series label references
	StringBytes   uint64 // bytes of the distinct names and values

	// The topN largest of each, largest first (ties by name).
	ValuesPerName   []Count // label names by number of values
	SeriesPerPair   []Count // name=value pairs by number of series
	SeriesPerMetric []Count // metric names (__name__ values) by number of series
	BytesPerName    []Count // label names by bytes of their values' strings
}

// Count is one row of a top list. Name is a label name, or name=value.
type Count struct {
	Name  string
	Count uint64
}

// Stats computes the statistics, with top lists of at most topN rows.
func (ix *Index) Stats(topN int) Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := Stats{
		Series:      int(ix.all.GetCardinality()),
		LabelNames:  len(ix.names),
		SeriesBytes: ix.series.bytes(),
	}
	var perPair, perMetric []Count
	for i := range ix.pairs.len() {
		p := ix.pairs.at(uint32(i))
		if p.name == nil { // a freed slot
			continue
		}
		st.LabelPairs++
		st.PostingsBytes += p.sizeInBytes()
		st.StringBytes += uint64(len(p.value))
		n := p.card()
		perPair = append(perPair, Count{p.name.name + "=" + p.value, n})
		if p.name.name == model.MetricName {
			perMetric = append(perMetric, Count{p.value, n})
		}
	}
	var perName, bytesPerName []Count
	for _, ln := range ix.names {
		st.StringBytes += uint64(len(ln.name))
		perName = append(perName, Count{ln.name, uint64(ln.values.len())})
		var b uint64
		ln.values.each(func(r uint32) { b += uint64(len(ix.pairs.at(r).value)) })
		bytesPerName = append(bytesPerName, Count{ln.name, b})
	}
	st.ValuesPerName = top(perName, topN)
	st.SeriesPerPair = top(perPair, topN)
	st.SeriesPerMetric = top(perMetric, topN)
	st.BytesPerName = top(bytesPerName, topN)
	return st
}

// top sorts by count, descending, then name, and keeps n rows.
func top(cs []Count, n int) []Count {
	slices.SortFunc(cs, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return cs[:min(n, len(cs))]
}
