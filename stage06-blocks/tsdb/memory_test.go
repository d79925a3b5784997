package tsdb

import (
	"math"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestHeadMemoryAddsUp: the parts Head.Memory computes from the
// structures add up to the
// live heap measured around building the head, within 3 %. A part left
// out (or counted twice) of the breakdown is more than that: the smallest
// part here, the two ref tables, is 4 % of the total.
func TestHeadMemoryAddsUp(t *testing.T) {
	const n = 50_000
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = millionLabels(i)
	}
	hb, err := measureHead(t.TempDir(), lsets, 3)
	if err != nil {
		t.Fatal(err)
	}
	p := hb.Parts
	t.Logf("measured %.1f B/series; parts: memSeries %.1f, open chunks %.1f, ref tables %.1f, other %.1f, index %.1f (refs %.1f, pairs %.1f, postings %.1f, values %.1f, strings %.1f, hashes %.1f)",
		float64(hb.Measured)/n, float64(p.MemSeries)/n, float64(p.OpenChunks)/n, float64(p.SeriesTables)/n, float64(p.Other)/n,
		float64(p.Index.Total())/n, float64(p.Index.SeriesRefs)/n, float64(p.Index.Pairs)/n, float64(p.Index.Postings)/n,
		float64(p.Index.ValueTables)/n, float64(p.Index.Strings)/n, float64(p.Index.Hashes)/n)
	if p.Series != n || p.Index.HashEntries != n {
		t.Fatalf("breakdown of %d series, %d hash entries; want %d", p.Series, p.Index.HashEntries, n)
	}
	for name, v := range map[string]uint64{"memSeries": p.MemSeries, "open chunks": p.OpenChunks, "ref tables": p.SeriesTables,
		"index refs": p.Index.SeriesRefs, "pairs": p.Index.Pairs, "postings": p.Index.Postings, "value tables": p.Index.ValueTables,
		"strings": p.Index.Strings, "hashes": p.Index.Hashes} {
		if v == 0 {
			t.Errorf("part %s is 0", name)
		}
	}
	if diff := math.Abs(float64(hb.Measured) - float64(p.Total())); diff > 0.03*float64(hb.Measured) {
		t.Fatalf("parts add up to %d bytes, measured %d: %.1f %% apart, want ≤ 3 %%", p.Total(), hb.Measured, 100*diff/float64(hb.Measured))
	}
}
