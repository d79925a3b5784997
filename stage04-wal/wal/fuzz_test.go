package wal

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Decoders must never panic, and whatever they accept must re-encode to
// the same bytes (the encoding is canonical).
func FuzzDecodeSamples(f *testing.F) {
	f.Add(AppendSamples(nil, []RefSample{{1, 2, 3}, {0, -5, math.NaN()}, {1 << 60, math.MaxInt64, 1}}))
	f.Add(AppendSamples(nil, nil))
	f.Add([]byte{2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{2, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSamples(b, nil)
		if err != nil {
			return
		}
		if re := AppendSamples(nil, s); !bytes.Equal(re, b) {
			// Varints have non-minimal spellings (0x80 0x00 for 0); those
			// decode but are not what the encoder writes. Accept only that.
			s2, err := DecodeSamples(re, nil)
			if err != nil || len(s2) != len(s) {
				t.Fatalf("re-encoding does not decode back: %v", err)
			}
			for i := range s {
				if s[i].Ref != s2[i].Ref || s[i].T != s2[i].T || math.Float64bits(s[i].V) != math.Float64bits(s2[i].V) {
					t.Fatalf("sample %d changed: %+v %+v", i, s[i], s2[i])
				}
			}
		}
	})
}

func FuzzDecodeSeries(f *testing.F) {
	f.Add(AppendSeries(nil, []RefSeries{{Ref: 3, Labels: model.MustFromStrings(model.MetricName, "up", "job", "x")}}))
	f.Add(AppendSeries(nil, nil))
	f.Add([]byte{1, 1, 1, 2, 1, 'b', 1, '1', 1, 'a', 1, '2'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSeries(b, nil)
		if err != nil {
			return
		}
		s2, err := DecodeSeries(AppendSeries(nil, s), nil)
		if err != nil || len(s2) != len(s) {
			t.Fatalf("re-encoding does not decode back: %v", err)
		}
		for i := range s {
			if s[i].Ref != s2[i].Ref || !s[i].Labels.Equal(s2[i].Labels) {
				t.Fatalf("series %d changed", i)
			}
		}
	})
}

func FuzzDecodeTombstones(f *testing.F) {
	f.Add(AppendTombstones(nil, []Tombstone{{1, -1, 64}, {math.MaxUint64, math.MinInt64, math.MaxInt64}}))
	f.Add([]byte{3, 5, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeTombstones(b, nil)
		if err != nil {
			return
		}
		s2, err := DecodeTombstones(AppendTombstones(nil, s), nil)
		if err != nil || len(s2) != len(s) {
			t.Fatalf("re-encoding does not decode back: %v", err)
		}
	})
}

// The reader on arbitrary segment bytes: never panics, every record it
// returns has a valid frame, and it reports damage rather than skipping it;
// Repair then leaves a log that reads cleanly with every intact record.
func FuzzReader(f *testing.F) {
	good := appendFrame(appendFrame(nil, []byte("\x01hello")), AppendSamples(nil, []RefSample{{1, 2, 3}}))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add(append(make([]byte, 40), good...))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		// The same bytes as a middle segment and as the last one.
		for _, n := range []int{0, 1} {
			if err := os.WriteFile(filepath.Join(dir, SegmentName(n)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r, err := NewReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		read := 0
		for r.Next() {
			read++
			_, _, at := r.Position()
			rec := r.Record()
			frame := b[at : at+int64(len(rec))+frameHeaderSize]
			if _, _, st := parseFrame(frame); st != frameOK || !bytes.Equal(frame[frameHeaderSize:], rec) {
				t.Fatalf("record at %d is not a valid frame of the input", at)
			}
		}
		_ = r.Err()
		rep, err := Repair(dir, Options{})
		if err != nil {
			t.Fatalf("Repair: %v", err)
		}
		// Repair never gives up an intact record: it keeps at least what
		// the reader got before the first damage, and what it says it kept.
		recs, _, err := readAll(t, dir)
		if err != nil {
			t.Fatalf("after Repair: %v", err)
		}
		if len(recs) < read || len(recs) != rep.Records {
			t.Fatalf("after Repair %d records; %d read before, %d reported kept", len(recs), read, rep.Records)
		}
	})
}
