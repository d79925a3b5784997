package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// histogramDemo stores three hours of a synthetic latency histogram in
// histogram chunks of 120 scrapes, prints what they take against plain
// 8-byte fields, and checks that every scrape decodes to what went in.
func histogramDemo(w io.Writer) error {
	ts, hs := gorilla.SyntheticHistograms(720, 1)
	var chunks [][]byte
	var c *gorilla.HistogramChunk
	var app *gorilla.HistogramAppender
	rawBytes, bucketSamples, minB, maxB := 0, 0, math.MaxInt, 0
	for i, h := range hs {
		n := len(h.PositiveBuckets) + len(h.NegativeBuckets)
		spans := len(h.PositiveSpans) + len(h.NegativeSpans)
		rawBytes += 8 * (4 + n + spans) // t, count, zero count, sum, buckets, spans
		bucketSamples += n
		minB, maxB = min(minB, n), max(maxB, n)
		if c != nil && c.NumSamples() < 120 {
			err := app.Append(ts[i], h)
			if err == nil {
				continue
			}
			if !errors.Is(err, gorilla.ErrNotAppendable) {
				return err
			}
		}
		if c != nil {
			chunks = append(chunks, c.Bytes())
		}
		c = gorilla.NewHistogramChunk()
		var err error
		if app, err = c.Appender(); err != nil {
			return err
		}
		if err := app.Append(ts[i], h); err != nil {
			return err
		}
	}
	chunks = append(chunks, c.Bytes())
	size, k := 0, 0
	var got histogram.FloatHistogram
	var it gorilla.HistogramIterator
	for _, b := range chunks {
		size += len(b)
		it.Reset(b)
		for it.Next() {
			it.AtFloatHistogram(&got)
			if k >= len(hs) || !sameCounts(&got, hs[k].ToFloat()) {
				return fmt.Errorf("histogram demo: scrape %d decodes to something else", k)
			}
			k++
		}
		if err := it.Err(); err != nil {
			return err
		}
	}
	if k != len(hs) {
		return fmt.Errorf("histogram demo: %d scrapes decoded, %d stored", k, len(hs))
	}
	fmt.Fprintf(w, "\nNative histograms: %s scrapes of a latency histogram (schema 3, %d-%d buckets) in %d chunks:\n",
		cli.Thousands(len(hs)), minB, maxB, len(chunks))
	fmt.Fprintf(w, "  %s bytes, %.1f bytes/scrape, %.1f bits per bucket per scrape; as 8-byte fields %s bytes (%.1fx)\n",
		cli.Thousands(size), float64(size)/float64(len(hs)), float64(size*8)/float64(bucketSamples),
		cli.Thousands(rawBytes), float64(rawBytes)/float64(size))
	fmt.Fprintf(w, "  decoded: %s histograms, every count and sum equal to the input\n", cli.Thousands(k))
	return nil
}

// sameCounts compares two float histograms by meaning: scalars bit for
// bit, and the count of every bucket index, however the spans spell them
// (a recoded chunk stores a wider layout with zeros).
func sameCounts(a, b *histogram.FloatHistogram) bool {
	if a.Schema != b.Schema || a.ZeroThreshold != b.ZeroThreshold || a.ZeroCount != b.ZeroCount ||
		a.Count != b.Count || math.Float64bits(a.Sum) != math.Float64bits(b.Sum) {
		return false
	}
	return sameMap(byIndex(a.PositiveSpans, a.PositiveBuckets), byIndex(b.PositiveSpans, b.PositiveBuckets)) &&
		sameMap(byIndex(a.NegativeSpans, a.NegativeBuckets), byIndex(b.NegativeSpans, b.NegativeBuckets))
}

func byIndex(spans []histogram.Span, counts []float64) map[int64]float64 {
	m := map[int64]float64{}
	var idx int64
	k := 0
	for _, s := range spans {
		idx += int64(s.Offset)
		for range s.Length {
			if counts[k] != 0 {
				m[idx] = counts[k]
			}
			idx++
			k++
		}
	}
	return m
}

func sameMap(a, b map[int64]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
