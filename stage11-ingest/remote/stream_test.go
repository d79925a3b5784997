package remote

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/prometheus/prompb"
	"github.com/tsdb-course/stage01-memstore/model"
)

// TestChunkedWriter: one series per frame as Prometheus's client reads
// them, a series larger than the frame size split over frames of about
// that size with its labels in each, every chunk arriving once in order,
// query indexes kept, and prompb reading each frame.
func TestChunkedWriter(t *testing.T) {
	var out bytes.Buffer
	flushes := 0
	cw := NewChunkedWriter(&out, func() { flushes++ }, 600)
	type sent struct {
		q     int64
		name  string
		chunk int
	}
	var want []sent
	var given [][]byte
	for q := range int64(3) {
		n := []int{4, 0, 3}[q]
		for i := range n {
			name := fmt.Sprintf("s%d_%d", q, i)
			size := []int{1, 9, 0, 2}[i%4] // 9 chunks of 100 bytes: over the frame size
			var cs []Chunk
			for k := range size {
				data := bytes.Repeat([]byte{byte(k)}, 100)
				given = append(given, data)
				cs = append(cs, Chunk{MinT: int64(k), MaxT: int64(k), Type: ChunkXOR, Data: data})
				want = append(want, sent{q, name, k})
			}
			if err := cw.Write(q, ChunkedSeries{Labels: model.MustFromStrings("__name__", name), Chunks: cs}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range given {
		d[0] = 0xee // the writer is done with what it was given
	}
	fr := NewFrameReader(bytes.NewReader(out.Bytes()), 1<<20)
	var got []sent
	frames := 0
	for {
		msg, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames++
		var pb prompb.ChunkedReadResponse
		if err := pb.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		if len(msg) > 600+110 || len(pb.ChunkedSeries) != 1 {
			t.Fatalf("frame of %d bytes, %d series", len(msg), len(pb.ChunkedSeries))
		}
		for _, s := range pb.ChunkedSeries {
			for _, c := range s.Chunks {
				if c.Data[0] != byte(c.MinTimeMs) {
					t.Fatalf("%s chunk %d: data %x", s.Labels[0].Value, c.MinTimeMs, c.Data[0])
				}
				got = append(got, sent{pb.QueryIndex, s.Labels[0].Value, int(c.MinTimeMs)})
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chunks\n%v\nwant\n%v", got, want)
	}
	// 1 + 2 (9 chunks split) + 1 + 1 + 2 + 0 series frames at least
	if frames < 7 || frames != cw.Frames() || flushes != frames {
		t.Fatalf("%d frames read, %d written, %d flushes", frames, cw.Frames(), flushes)
	}
}
