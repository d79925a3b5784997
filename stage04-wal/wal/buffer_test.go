package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The reader fills a 1 MiB buffer and parses frames out of it: a frame
// that ends exactly where the buffer does, one that straddles its end by a
// byte, and one that stops a byte short must all be read, and the log must
// end cleanly, not in a "torn tail"; so must the frames after it, in the
// same segment (the next fill) or the next one. 1040 frames of 1008 bytes
// take 1,048,320 bytes; a frame of 256 bytes then ends at exactly 1 MiB.
func TestReaderBufferBoundary(t *testing.T) {
	const bufSize = 1 << 20
	for _, last := range []int{255, 256, 257} {
		for _, after := range []string{"nothing", "more frames", "a segment"} {
			t.Run(fmt.Sprintf("frame 1041 of %d bytes, then %s", last, after), func(t *testing.T) {
				dir := t.TempDir()
				w := mustOpen(t, dir, Options{SegmentSize: 4 << 20, Sync: SyncNone, Compression: CompressionNone})
				var want [][]byte
				rec := func(i, size int) []byte {
					r := bytes.Repeat([]byte{byte(i)}, size-frameHeaderSize)
					r[0] = 0x42
					copy(r[1:], fmt.Sprint(i))
					return r
				}
				for i := range 1040 {
					want = append(want, rec(i, 1008))
				}
				want = append(want, rec(1040, last))
				if err := w.Log(want...); err != nil {
					t.Fatal(err)
				}
				switch after {
				case "more frames":
					for i := range 20 {
						want = append(want, rec(1041+i, 1008))
					}
					if err := w.Log(want[1041:]...); err != nil {
						t.Fatal(err)
					}
				case "a segment":
					if _, err := w.NextSegment(); err != nil {
						t.Fatal(err)
					}
					want = append(want, rec(1041, 100))
					if err := w.Log(want[len(want)-1]); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				wantSize := int64(bufSize - 256 + last)
				if after == "more frames" {
					wantSize += 20 * 1008
				}
				if size := segmentFiles(t, dir)[SegmentName(0)]; size != wantSize {
					t.Fatalf("segment 0 is %d bytes, want %d", size, wantSize)
				}
				os.Remove(filepath.Join(dir, ClosedMarkerName)) // as after a crash: the tail rule applies
				recs, stats, err := readAll(t, dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) != len(want) {
					t.Fatalf("replayed %d records of %d (stats %+v)", len(recs), len(want), stats)
				}
				for i := range want {
					if !bytes.Equal(recs[i], want[i]) {
						t.Fatalf("record %d differs", i)
					}
				}
				for _, s := range stats {
					if s.TornTail || s.Corrupt != 0 {
						t.Fatalf("damage reported in an intact log: %+v", s)
					}
				}
				if n := len(want) - len(stats) + 1; stats[0].Records != n {
					t.Fatalf("segment 0: %d records, want %d", stats[0].Records, n)
				}
			})
		}
	}
}
