package remote

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/prometheus/prompb"
	"github.com/tsdb-course/stage01-memstore/model"
)

// TestChunkedWriter: series are gathered into frames of about the size
// asked, a frame never mixes queries, every series arrives once in order,
// and prompb reads each frame.
func TestChunkedWriter(t *testing.T) {
	var out bytes.Buffer
	flushes := 0
	cw := NewChunkedWriter(&out, func() { flushes++ }, 600)
	type sent struct {
		q    int64
		name string
	}
	var want []sent
	var given [][]byte
	for q := range int64(3) {
		n := []int{10, 0, 3}[q]
		for i := range n {
			name := fmt.Sprintf("s%d_%d", q, i)
			size := 1
			if i == 1 {
				size = 9 // one series over the frame size
			}
			var cs []Chunk
			for k := range size {
				data := bytes.Repeat([]byte{byte(k)}, 100)
				given = append(given, data)
				cs = append(cs, Chunk{MinT: int64(k), MaxT: int64(k), Type: ChunkXOR, Data: data})
			}
			if err := cw.Write(q, ChunkedSeries{Labels: model.MustFromStrings("__name__", name), Chunks: cs}); err != nil {
				t.Fatal(err)
			}
			want = append(want, sent{q, name})
		}
	}
	for _, d := range given {
		d[0] = 0xee // the writer copied what it was given
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
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
		if len(msg) > 600+9*110 {
			t.Fatalf("frame of %d bytes", len(msg))
		}
		for _, s := range pb.ChunkedSeries {
			got = append(got, sent{pb.QueryIndex, s.Labels[0].Value})
			for k, c := range s.Chunks {
				if c.Data[0] != byte(k) {
					t.Fatalf("%s chunk %d: data not copied", s.Labels[0].Value, k)
				}
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("series\n%v\nwant\n%v", got, want)
	}
	if frames < 4 || frames != cw.Frames() || flushes != frames {
		t.Fatalf("%d frames read, %d written, %d flushes: want at least 4 (sizes, the query change)", frames, cw.Frames(), flushes)
	}
}
